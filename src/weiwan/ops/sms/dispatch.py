"""Dispatch and receipts: the outbox handed to the gateway in committed batches (each message
sent once; a lost answer is ``unknown``, never re-sent), reconciliation of stuck messages, and
the gateway's delivery receipts (docs/surveys-and-sms.md). Before each batch, the waiting
marketing messages of subscribers who have objected to marketing SMS since they were queued
are withheld (``blocked``, ``objection``; docs/privacy.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.orm import Session

from weiwan.core.consent_rules import OBJECTION, Purpose
from weiwan.core.errors import InvalidRequestError
from weiwan.ops.base import as_utc, utcnow
from weiwan.ops.consents.models import Consent
from weiwan.ops.contacts.models import Contact
from weiwan.ops.sms.gateway import GatewayResult, OutgoingSms, SmsGateway
from weiwan.ops.sms.models import MARKETING, SENDING, UNKNOWN, WAITING, SmsMessage
from weiwan.ops.sms.schemas import ReceiptIn

DISPATCH_BATCH = 500
#: how long a message may stay ``sending`` before it is marked ``unknown`` (the setting
#: ``sms_sending_grace_minutes``; above the HTTP gateway's timeouts)
SENDING_GRACE = timedelta(minutes=10)


@dataclass
class DispatchResult:
    """What one :func:`dispatch_due` run did: messages the gateway accepted (``sent``) or
    refused (``failed``), messages whose answer was lost (``unknown``: they may have gone
    out), and older messages found stuck in ``sending`` and marked ``unknown``
    (``reconciled``). ``error``: why the run stopped early (the gateway failed)."""

    sent: int = 0
    failed: int = 0
    unknown: int = 0
    reconciled: int = 0
    #: waiting marketing messages withheld: their subscriber objected since they were queued
    withheld: int = 0
    error: str | None = None


_MESSAGES = cast(Table, SmsMessage.__table__)
_RECORD = (
    _MESSAGES.update()
    .where(
        _MESSAGES.c.id == bindparam("message_id"),
        # not IN (…): an executemany takes no expanding parameter
        or_(_MESSAGES.c.status == SENDING, _MESSAGES.c.status == UNKNOWN),
    )
    .values(
        status=bindparam("new_status"),
        sent_at=bindparam("new_sent_at"),
        gateway_message_id=bindparam("new_gateway_id"),
        error=bindparam("new_error"),
    )
)


#: the subscribers who object to marketing SMS (an unsubscribe reply, the consent ledger)
_OBJECTING = select(Consent.subscriber_id).where(
    Consent.purpose == Purpose.MARKETING_SMS.value,
    Consent.state == OBJECTION,
)


def withhold_objected(session: Session) -> int:
    """Block every waiting (queued or scheduled) marketing message of a subscriber who objects
    to marketing SMS — it was queued before the objection — with the reason ``objection``, and
    its contact with it (it never took place); how many. Not committed."""
    contact_ids = session.scalars(
        _MESSAGES.update()
        .where(
            _MESSAGES.c.status.in_(WAITING),
            _MESSAGES.c.purpose == MARKETING,
            _MESSAGES.c.subscriber_id.in_(_OBJECTING),
        )
        .values(status="blocked", blocked_reason="objection", scheduled_at=None)
        .returning(_MESSAGES.c.contact_id)
    ).all()
    if contact_ids:
        session.execute(
            update(Contact)
            .where(Contact.id.in_(contact_ids))
            .values(status="blocked", blocked_reason="objection")
            .execution_options(synchronize_session=False)
        )
    return len(contact_ids)


def _take(session: Session, now: datetime, batch_size: int) -> list[OutgoingSms] | None:
    """Mark the next due messages ``sending`` (the caller commits at once); ``None`` when
    nothing is due. The update is conditional (``status`` still waiting), so of two
    dispatchers that read the same rows only one takes each: on SQLite the second update
    waits for the first's commit and then matches nothing; on PostgreSQL the rows are read
    ``FOR UPDATE SKIP LOCKED`` and a second dispatcher takes the next ones."""
    due = session.scalars(
        select(SmsMessage.id)
        .where(SmsMessage.status.in_(WAITING), SmsMessage.scheduled_at <= now)
        .order_by(SmsMessage.scheduled_at, SmsMessage.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    ).all()
    if not due:
        return None
    taken = session.execute(
        _MESSAGES.update()
        .where(_MESSAGES.c.id.in_(due), _MESSAGES.c.status.in_(WAITING))
        .values(status=SENDING, sending_at=now)
        .returning(_MESSAGES.c.id, _MESSAGES.c.msisdn, _MESSAGES.c.body)
    ).all()
    return sorted((OutgoingSms(i, msisdn, body) for i, msisdn, body in taken), key=_by_id)


def _by_id(message: OutgoingSms) -> int:
    return message.message_id


def _record(
    session: Session,
    batch: Sequence[OutgoingSms],
    answers: Mapping[int, GatewayResult],
    now: datetime,
    result: DispatchResult,
) -> int:
    """Store the gateway's answer of each message of ``batch``; how many are unknown."""
    rows: list[dict[str, Any]] = []
    unknown = 0
    for message in batch:
        answer = answers.get(message.message_id)
        row: dict[str, Any] = {
            "message_id": message.message_id,
            "new_sent_at": None,
            "new_gateway_id": None,
        }
        if answer is not None and answer.ok:
            row |= {"new_status": "sent", "new_sent_at": now, "new_error": None}
            row["new_gateway_id"] = answer.gateway_message_id
            result.sent += 1
        elif answer is not None and answer.unknown:
            row |= {"new_status": UNKNOWN, "new_error": (answer.error or "")[:500] or None}
            unknown += 1
        else:
            error = (answer.error if answer else None) or "no result from gateway"
            row |= {"new_status": "failed", "new_error": error[:500]}
            result.failed += 1
        rows.append(row)
    session.execute(_RECORD, rows)
    result.unknown += unknown
    return unknown


def dispatch_due(
    session: Session,
    gateway: SmsGateway,
    now: datetime | None = None,
    *,
    batch_size: int = DISPATCH_BATCH,
    grace: timedelta = SENDING_GRACE,
) -> DispatchResult:
    """Hand every queued or scheduled message whose time has come to ``gateway``, oldest
    first, ``batch_size`` at a time, each message exactly once even with several
    dispatchers at work (see :func:`_take`).

    **Commits** the session, per batch: the batch is marked ``sending`` and committed before
    the gateway is called, and the gateway's answers (``sent`` with its id, ``failed`` with
    the error, ``unknown`` when the answer was lost) are committed after. A crash in between
    leaves ``sending`` rows, which :func:`reconcile_sending` (run first here) marks
    ``unknown`` after ``grace``: never sent again by itself. A gateway that raises, or whose
    answers are lost, ends the run: the batch is ``unknown``, later messages stay queued for
    the next run. Failed messages are not retried automatically."""
    now = as_utc(now or utcnow())
    result = DispatchResult(reconciled=len(reconcile_sending(session, now=now, grace=grace)))
    session.commit()
    while True:
        result.withheld += withhold_objected(session)
        batch = _take(session, now, batch_size)
        session.commit()
        if batch is None:
            break
        if not batch:  # another dispatcher took these rows first
            continue
        try:
            answers = {r.message_id: r for r in gateway.send(batch)}
        except Exception as exc:  # any failure of the gateway: its answer is lost
            error = f"gateway error while sending (may have gone out): {type(exc).__name__}: {exc}"
            answers = {
                m.message_id: GatewayResult(m.message_id, False, error=error, unknown=True)
                for m in batch
            }
            result.error = error[:500]
        lost = _record(session, batch, answers, now, result)
        session.commit()
        if lost:
            why = next((a.error for a in answers.values() if a.unknown and a.error), None)
            result.error = result.error or f"{lost} message(s) without a sure answer: {why}"
            break
    session.expire_all()  # the rows were changed by Core statements
    return result


def reconcile_sending(
    session: Session, *, now: datetime | None = None, grace: timedelta = SENDING_GRACE
) -> list[int]:
    """Mark ``unknown`` the messages ``sending`` since longer than ``grace`` (their dispatcher
    stopped between the gateway call and recording its answer; they may have gone out); their
    ids. Not committed. Resolve them with :func:`resolve_unknown` after asking the gateway."""
    cutoff = as_utc(now or utcnow()) - grace
    return list(
        session.scalars(
            _MESSAGES.update()
            .where(_MESSAGES.c.status == SENDING, _MESSAGES.c.sending_at < cutoff)
            .values(
                status=UNKNOWN,
                error="dispatch interrupted before the gateway's answer was recorded; "
                "check with the gateway before sending again",
            )
            .returning(_MESSAGES.c.id)
        ).all()
    )


def unresolved_messages(session: Session, *, limit: int = 1000) -> Sequence[SmsMessage]:
    """Messages ``sending`` or ``unknown``, oldest first (for the operator's review)."""
    return session.scalars(
        select(SmsMessage)
        .where(SmsMessage.status.in_((SENDING, UNKNOWN)))
        .order_by(SmsMessage.sending_at, SmsMessage.id)
        .limit(limit)
    ).all()


#: what an operator may decide for an ``unknown`` message after asking the gateway
RESOLUTIONS = ("sent", "failed", "queued")


def resolve_unknown(
    session: Session, message_ids: Iterable[int], status: str, now: datetime | None = None
) -> list[int]:
    """Settle ``unknown`` messages after checking with the gateway: ``sent`` (it went out),
    ``failed`` (it did not) or ``queued`` (it did not, send it again with the next dispatch);
    the ids changed (messages not ``unknown`` are left alone). Not committed."""
    if status not in RESOLUTIONS:
        raise InvalidRequestError(f"use one of {', '.join(RESOLUTIONS)}", field="status")
    now = as_utc(now or utcnow())
    values: dict[str, Any] = {"status": status, "error": None}
    if status == "sent":
        values["sent_at"] = now
    elif status == "failed":
        values["error"] = "not sent (checked with the gateway)"
    else:
        values["scheduled_at"] = now
    changed = session.scalars(
        _MESSAGES.update()
        .where(_MESSAGES.c.id.in_(list(message_ids)), _MESSAGES.c.status == UNKNOWN)
        .values(**values)
        .returning(_MESSAGES.c.id)
    ).all()
    session.expire_all()
    return sorted(changed)


@dataclass
class ReceiptResult:
    """What a batch of delivery receipts changed."""

    updated: int = 0
    unchanged: int = 0
    unknown: list[str] = field(default_factory=list)


def apply_receipts(
    session: Session, receipts: Sequence[ReceiptIn], now: datetime | None = None
) -> ReceiptResult:
    """Mark sent messages delivered or failed from the gateway's receipts (matched by the
    gateway's message id). Messages already delivered or failed stay as they are."""
    now = as_utc(now or utcnow())
    ids = list(dict.fromkeys(r.message_id for r in receipts))
    messages: dict[str, list[SmsMessage]] = {}
    # FOR UPDATE holds on PostgreSQL; on SQLite two receipts for one message at once would
    # both apply and the later one's final state stays; a receipt never re-sends anything
    for message in session.scalars(
        select(SmsMessage).where(SmsMessage.gateway_message_id.in_(ids)).with_for_update()
    ):
        assert message.gateway_message_id is not None
        messages.setdefault(message.gateway_message_id, []).append(message)
    result = ReceiptResult()
    for receipt in receipts:
        found = messages.get(receipt.message_id)
        if not found:
            result.unknown.append(receipt.message_id)
            continue
        for message in found:
            if message.status != "sent":
                result.unchanged += 1
                continue
            message.status = receipt.status
            message.delivered_at = as_utc(receipt.at) if receipt.at else now
            if receipt.status == "failed":
                message.error = receipt.error or "delivery failed"
            result.updated += 1
    session.flush()
    return result
