"""Customer lookups: a rate limit per user and the audit of what was looked up.

Every lookup of a customer (screen-pop by phone, card by id, self-service, the customer list)
is audited as ``pii_view`` — a lookup that found nobody too, with the number searched masked
as the role sees numbers — so the audit trail shows who tried which numbers. The limit counts
the user's ``pii_view`` rows of the last minute: one indexed range count
(``ix_audit_events_user_action_at``), the same in every server process. Past the limit the
lookup is refused (429 with the seconds until a slot frees) and the first refusal of a window
is audited as ``lookup_limit``. See docs/decisions/0008-lookup-rate-limit-and-uploads.md.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from weiwan.core.errors import NotFoundError, WeiwanError
from weiwan.ops.base import as_utc
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.customers.schemas import CustomerRow
from weiwan.ops.customers.service import find_by_phone, find_customer, list_customers
from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import AuditEvent
from weiwan.ops.org.service import AuditAction, audit, mask_phone

WINDOW = timedelta(minutes=1)
#: characters of a searched number or id kept in the audit (the path allows any length)
MAX_SEARCHED = 64


class LookupLimitError(WeiwanError):
    """The user made ``limit`` lookups in the last minute; ``retry_after`` seconds until the
    oldest of them leaves the window."""

    def __init__(self, limit: int, retry_after: int) -> None:
        self.limit = limit
        self.retry_after = retry_after
        super().__init__(
            f"more than {limit} customer lookups in a minute; try again in {retry_after} s"
        )


def check_lookup_rate(session: Session, actor: Actor, *, limit: int, now: datetime) -> None:
    """Raise :class:`LookupLimitError` when the actor made ``limit`` lookups in the minute
    before ``now``. The first refusal in a window is audited (``lookup_limit``) and committed
    at once: the caller's transaction is rolled back by the error."""
    since = now - WINDOW
    count, oldest = session.execute(
        select(func.count(), func.min(AuditEvent.at)).where(
            AuditEvent.user_id == actor.user_id,
            AuditEvent.action == AuditAction.PII_VIEW.value,
            AuditEvent.at >= since,
        )
    ).one()
    if count < limit:
        return
    retry_after = max(1, math.ceil((as_utc(oldest) + WINDOW - now).total_seconds()))
    refused_before = session.scalar(
        select(AuditEvent.id)
        .where(
            AuditEvent.user_id == actor.user_id,
            AuditEvent.action == AuditAction.LOOKUP_LIMIT.value,
            AuditEvent.at >= since,
        )
        .limit(1)
    )
    if refused_before is None:
        audit(
            session,
            actor.user_id,
            AuditAction.LOOKUP_LIMIT,
            target_type="customer_lookups",
            detail={"limit": limit, "window_seconds": int(WINDOW.total_seconds())},
        )
        session.commit()
    raise LookupLimitError(limit, retry_after)


def audit_miss(
    session: Session,
    actor: Actor,
    *,
    channel: str,
    phone: str | None = None,
    subscriber_id: str | None = None,
) -> None:
    """Audit a lookup that found nobody in scope (``pii_view`` of ``phone_lookup`` with the
    number masked as the role sees it, or ``customer_lookup`` with the id) and commit it: the
    caller answers 404 and rolls back."""
    target_type = "phone_lookup" if phone is not None else "customer_lookup"
    searched = mask_phone(phone, actor.role) if phone is not None else subscriber_id
    target_id = searched[:MAX_SEARCHED] if searched is not None else None
    audit(
        session,
        actor.user_id,
        AuditAction.PII_VIEW,
        target_type=target_type,
        target_id=target_id,
        detail={"channel": channel, "found": False},
    )
    session.commit()


def lookup_by_phone(
    session: Session, actor: Actor, phone: str, *, channel: str, limit: int, now: datetime
) -> CustomerView:
    """The customer with this number in scope (screen-pop), within the rate limit; a miss is
    audited before the 404. The caller audits the view of what it shows."""
    check_lookup_rate(session, actor, limit=limit, now=now)
    try:
        return find_by_phone(session, actor, phone)
    except NotFoundError:
        audit_miss(session, actor, channel=channel, phone=phone.strip())
        raise


def lookup_by_id(
    session: Session,
    actor: Actor,
    subscriber_id: str,
    *,
    channel: str,
    limit: int | None,
    now: datetime,
) -> CustomerView:
    """The customer by id in scope, within the rate limit (``None``: none, for the
    self-service API that the operator's portal calls with one service account); a miss is
    audited before the 404. The caller audits the view of what it shows."""
    if limit is not None:
        check_lookup_rate(session, actor, limit=limit, now=now)
    try:
        return find_customer(session, actor, subscriber_id)
    except NotFoundError:
        audit_miss(session, actor, channel=channel, subscriber_id=subscriber_id)
        raise


def audit_view(session: Session, actor: Actor, customer: CustomerView, *, channel: str) -> None:
    """Audit a view of ``customer`` that is not the card (which audits itself)."""
    audit(
        session,
        actor.user_id,
        AuditAction.PII_VIEW,
        target_type="customer",
        target_id=customer.subscriber_id,
        detail={"channel": channel},
    )


def audit_list(session: Session, actor: Actor, *, rows: int, filters: dict[str, Any]) -> None:
    """Audit a list of customers shown (one row per list, with its filters)."""
    audit(
        session,
        actor.user_id,
        AuditAction.PII_VIEW,
        target_type="customer_list",
        detail={"rows": rows, "filters": {k: v for k, v in filters.items() if v is not None}},
    )


def lookup_list(
    session: Session,
    actor: Actor,
    *,
    risk_band: str | None = None,
    value_tier: str | None = None,
    branch_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
    rate_limit: int,
    now: datetime,
) -> list[CustomerRow]:
    """A page of the customer list (:func:`list_customers`), within the rate limit, numbers
    masked as the role sees them; the list and its filters are audited."""
    check_lookup_rate(session, actor, limit=rate_limit, now=now)
    rows = [
        CustomerRow(
            subscriber_id=c.subscriber_id,
            name=c.name,
            msisdn=mask_phone(c.msisdn, actor.role),
            branch_code=c.branch_code,
            value_tier=c.value_tier,
            lifecycle_stage=c.lifecycle_stage,
            churn_probability=c.churn_probability,
            risk_band=c.risk_band,
        )
        for c in list_customers(
            session,
            actor,
            risk_band=risk_band,
            value_tier=value_tier,
            branch_id=branch_id,
            limit=limit,
            offset=offset,
        )
    ]
    filters = {"risk_band": risk_band, "value_tier": value_tier, "branch_id": branch_id}
    audit_list(session, actor, rows=len(rows), filters={**filters, "offset": offset})
    return rows
