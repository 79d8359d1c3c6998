"""Reading the events: one event's status with what it led to, in the caller's scope."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.core.errors import ConflictError, NotFoundError
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.events.models import EventRecord
from weiwan.ops.org.access import Actor
from weiwan.ops.org.roles import Role, Scope
from weiwan.ops.org.service import mask_phone
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
    return EventView(
        record=record,
        msisdn=mask_phone(record.msisdn, actor.role) if record.msisdn else None,
        attributes=json.loads(record.attributes or "{}"),
        decision=json.loads(record.decision) if record.decision else None,
    )
