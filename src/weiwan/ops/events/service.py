"""Reading the events: one event's status with what it led to, in the caller's scope."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from weiwan.core.errors import ConflictError, NotFoundError
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.events.models import EventRecord
from weiwan.ops.events.rules import rules_in_effect
from weiwan.ops.org.access import Actor
from weiwan.ops.org.roles import Role, Scope
from weiwan.ops.org.service import AuditAction, audit, mask_phone
from weiwan.ops.scope import customer_scope_clause

#: who may look an event up: the centre's managers and analysts
READERS = (Role.DIRECTOR, Role.CENTRE_HEAD, Role.ANALYST)


@dataclass(frozen=True)
class EventView:
    """One event as its reader may see it (the number masked unless the role may see it)."""

    record: EventRecord
    msisdn: str | None
    attributes: dict[str, Any]
    decision: dict[str, Any] | None


def event_status(
    session: Session, actor: Actor, event_id: str, source: str | None = None
) -> EventView:
    """The event ``event_id`` (of ``source`` when given); 404 outside the reader's scope or
    unknown, 409 when several sources sent that id and none was named."""
    actor.require(*READERS)
    query = select(EventRecord).where(EventRecord.event_id == event_id)
    if source is not None:
        query = query.where(EventRecord.source == source)
    if actor.scope is not Scope.ALL:  # an event of a customer the reader may not see is absent
        visible = select(CustomerView.subscriber_id).where(customer_scope_clause(actor))
        query = query.where(EventRecord.subscriber_id.in_(visible))
    found = list(session.scalars(query.limit(2)))
    if not found:
        raise NotFoundError(f"no event {event_id!r}")
    if len(found) > 1:
        raise ConflictError(f"several sources sent event {event_id!r}: name the source")
    record = found[0]
    shown = mask_phone(record.msisdn, actor.role) if record.msisdn else None
    if shown is not None and shown == record.msisdn:  # a full number was shown: audited
        audit(
            session,
            actor.user_id,
            AuditAction.PII_VIEW,
            "event",
            f"{record.source}:{record.event_id}"[:128],
            {"fields": ["msisdn"], "subscriber_id": record.subscriber_id},
        )
    return EventView(
        record=record,
        msisdn=shown,
        attributes=json.loads(record.attributes or "{}"),
        decision=json.loads(record.decision) if record.decision else None,
    )


@dataclass(frozen=True)
class LiveAlert:
    """An event rule that fired for a customer recently (for the card and the screen-pop)."""

    rule_id: str
    name_zh: str
    name_en: str
    severity: str
    occurred_at: datetime
    task_id: int | None


def live_alerts(session: Session, subscriber_id: str, since: datetime) -> list[LiveAlert]:
    """The customer's events since ``since`` that an event rule acted on (not those held out:
    their customers are left alone, and a card showing the alert would have them contacted),
    newest first; the caller has checked the customer is in the reader's scope."""
    rows = session.execute(
        select(EventRecord.rule_id, EventRecord.occurred_at, EventRecord.task_id)
        .where(
            EventRecord.subscriber_id == subscriber_id,
            EventRecord.occurred_at >= since,
            EventRecord.rule_id.is_not(None),
            EventRecord.status == "processed",
            func.coalesce(EventRecord.note, "") != "holdout",
        )
        .order_by(EventRecord.occurred_at.desc())
        .limit(20)
    ).all()
    if not rows:
        return []
    rules = {r.id: r for r in rules_in_effect(session)}
    out = []
    for rule_id, occurred_at, task_id in rows:
        rule = rules.get(str(rule_id))
        out.append(
            LiveAlert(
                rule_id=str(rule_id),
                name_zh=rule.name_zh if rule else str(rule_id),
                name_en=rule.name_en if rule else str(rule_id),
                severity=rule.severity if rule else "high",
                occurred_at=occurred_at,
                task_id=task_id,
            )
        )
    return out
