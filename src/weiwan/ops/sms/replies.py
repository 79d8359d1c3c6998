"""SMS replies (上行短信) the gateway forwards: an unsubscribe reply becomes an objection to
marketing SMS at once.

通信短信息服务管理规定 asks that a subscriber who replies an unsubscribe word gets no more
marketing SMS. A reply whose text, trimmed and case-folded (full-width letters folded too), is
one of the unsubscribe keywords (TD, T, 退订 and those of the setting
``sms_unsubscribe_keywords``) records, in the request that delivers it, an objection of the
consent ledger to ``marketing_sms`` (source ``sms_reply``, the gateway's message id as its
reference, in effect from when the reply was received), audited. From that commit on every
marketing SMS to the subscriber is blocked (``objection``) — the same request, so well inside
the 60 seconds the rule allows; service and care notices still go. Other replies are kept and
not acted on. A reply is kept once per gateway message id (a retried delivery is a
``duplicate``); a number no customer has is reported, not kept.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from weiwan.core.consent_rules import OBJECTION, Purpose, is_unsubscribe
from weiwan.ops.base import as_utc, one_of
from weiwan.ops.consents.service import Statement, audit_statement, record_statements
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.sms.models import SmsReply
from weiwan.ops.sms.schemas import ReplyIn, ReplyResult

#: the channel of an unsubscribe's objection
CHANNEL = "sms"
SOURCE = "sms_reply"
_REPLIES = cast(Table, SmsReply.__table__)
_SEPARATORS = re.compile(r"[\s\-()]")


def national_number(msisdn: str) -> str:
    """A mobile number as the customer view holds it: separators dropped, the country code
    (+86 / 0086 / 86 before 11 digits) removed."""
    digits = _SEPARATORS.sub("", msisdn).removeprefix("+").removeprefix("00")
    if len(digits) == 13 and digits.startswith("86"):
        return digits[2:]
    return digits


@dataclass
class RepliesResult:
    """Each reply's result (message id, result), in the batch's order, and the count of
    unsubscribes recorded."""

    unsubscribed: int = 0
    results: list[tuple[str, ReplyResult]] = field(default_factory=list)


def _senders(session: Session, replies: Sequence[ReplyIn]) -> dict[str, str]:
    """Subscriber id of each reply's sender, by ``id:<subscriber>`` and ``#<number>``."""
    ids = sorted({r.subscriber_id for r in replies if r.subscriber_id})
    numbers = sorted({national_number(r.msisdn) for r in replies if r.msisdn})
    found: dict[str, str] = {}
    if ids:
        query = select(CustomerView.subscriber_id).where(
            one_of(session, CustomerView.subscriber_id, ids)
        )
        found.update({f"id:{sid}": sid for sid in session.scalars(query)})
    if numbers:
        rows = session.execute(
            select(CustomerView.msisdn, CustomerView.subscriber_id).where(
                one_of(session, CustomerView.msisdn, numbers)
            )
        )
        found.update({f"#{msisdn}": sid for msisdn, sid in rows})
    return found


def _sender_key(reply: ReplyIn) -> str:
    if reply.subscriber_id:
        return f"id:{reply.subscriber_id}"
    return f"#{national_number(reply.msisdn or '')}"


def _keep(session: Session, row: dict[str, Any]) -> int | None:
    """Store one reply unless its gateway id is stored already (by an earlier or a concurrent
    delivery: on PostgreSQL the insert waits for that one's commit); its id, or None."""
    dialect = session.get_bind().dialect.name
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(_REPLIES)
    inserted = session.execute(
        statement.values(**row)
        .on_conflict_do_nothing(index_elements=["gateway_message_id"])
        .returning(_REPLIES.c.id)
    ).scalar_one_or_none()
    return None if inserted is None else int(inserted)


def take_replies(
    session: Session,
    replies: Sequence[ReplyIn],
    *,
    keywords: Collection[str],
    now: datetime,
) -> RepliesResult:
    """Keep each new reply of a known customer; record an objection to marketing SMS for each
    unsubscribe reply (audited); not committed. ``keywords``: normalised
    (``core.consent_rules.unsubscribe_keywords``)."""
    now = as_utc(now)
    result = RepliesResult()
    senders = _senders(session, replies)
    for reply in replies:
        subscriber_id = senders.get(_sender_key(reply))
        if subscriber_id is None:
            result.results.append((reply.message_id, "unknown_subscriber"))
            continue
        unsubscribe = is_unsubscribe(reply.text, keywords)
        received = min(as_utc(reply.received_at), now)  # a gateway clock ahead of ours
        reply_id = _keep(
            session,
            {
                "gateway_message_id": reply.message_id,
                "subscriber_id": subscriber_id,
                "msisdn": reply.msisdn,
                "text": reply.text,
                "received_at": received,
                "stored_at": now,
                "unsubscribe": unsubscribe,
            },
        )
        if reply_id is None:
            result.results.append((reply.message_id, "duplicate"))
            continue
        if not unsubscribe:
            result.results.append((reply.message_id, "stored"))
            continue
        statement = Statement(
            subscriber_id=subscriber_id,
            purpose=Purpose.MARKETING_SMS.value,
            channel=CHANNEL,
            state=OBJECTION,
            source=SOURCE,
            effective_at=received,
            reference=reply.message_id,
        )
        recorded = record_statements(session, [statement], recorded_by=None, now=now)
        for event in recorded.events:
            audit_statement(session, None, event)
            session.execute(
                update(_REPLIES).where(_REPLIES.c.id == reply_id).values(consent_event_id=event.id)
            )
        result.unsubscribed += 1
        result.results.append((reply.message_id, "unsubscribed"))
    return result
