"""Event intake: a batch checked event by event against the contract, new events stored once
per (source, event id), refused ones kept as dead letters with their reason, all in the
caller's transaction (nothing half-written: the batch commits or nothing does)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from weiwan.core.event_contract import Event, check_event
from weiwan.ops.events.models import EventDeadLetter, EventRecord

#: events in one request at most
MAX_BATCH = 1000
#: a dead letter keeps this much of the payload
MAX_PAYLOAD = 8000


@dataclass
class IntakeResult:
    """What became of a batch: new events, ones already taken in, refused ones."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    #: the event ids stored by this batch, and their rows (in the order they happened)
    new_ids: set[str] = field(default_factory=set)
    records: list[EventRecord] = field(default_factory=list)


def backlog(session: Session) -> int:
    """Events received and not yet processed."""
    count = session.scalar(
        select(func.count()).select_from(EventRecord).where(EventRecord.status == "received")
    )
    return int(count or 0)


def _row(source: str, event: Event, now: datetime) -> dict[str, Any]:
    return {
        "source": source,
        "event_id": event.event_id,
        "subscriber_id": event.subscriber_id,
        "msisdn": event.msisdn,
        "type": event.type,
        "occurred_at": event.time,
        "attributes": json.dumps(event.attributes, ensure_ascii=False, sort_keys=True),
        "received_at": now,
        "status": "received",
    }


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> list[EventRecord]:
    """Insert ``rows``, skipping (source, event id) pairs already stored — also one stored by
    a concurrent request meanwhile; the rows inserted, as the session's objects (one statement:
    an ORM insert with RETURNING)."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    statement: Any
    if dialect == "postgresql":
        statement = postgresql.insert(EventRecord).on_conflict_do_nothing(
            index_elements=["source", "event_id"]
        )
    elif dialect == "sqlite":
        statement = sqlite.insert(EventRecord).on_conflict_do_nothing(
            index_elements=["source", "event_id"]
        )
    else:  # pragma: no cover - the two databases weiwan runs on
        statement = insert(EventRecord)
    inserted = list(session.scalars(statement.returning(EventRecord), rows))
    return sorted(inserted, key=lambda r: (r.occurred_at, r.id))


def refuse(
    session: Session,
    result: IntakeResult,
    source: str,
    position: int,
    raw: Any,
    reason: str,
    now: datetime,
) -> None:
    """Refuse the event at ``position`` of a batch: counted in ``result`` and kept as a dead
    letter with the payload as sent and the reason."""
    result.rejected.append({"index": position, "reason": reason})
    raw_id = raw.get("event_id") if isinstance(raw, dict) else None
    payload = json.dumps(raw, ensure_ascii=False, default=str)
    session.add(
        EventDeadLetter(
            source=source,
            position=position,
            event_id=raw_id[:64] if isinstance(raw_id, str) else None,
            payload=payload[:MAX_PAYLOAD],
            reason=reason,
            received_at=now,
        )
    )


def take_in(
    session: Session,
    source: str,
    events: list[Any],
    now: datetime,
    refused: dict[int, str] | None = None,
) -> IntakeResult:
    """Check and store a batch from ``source``; ``refused``: positions the caller already
    found to be no event (position → reason), kept as dead letters."""
    result = IntakeResult()
    fresh: dict[str, dict[str, Any]] = {}
    for position, raw in enumerate(events):
        if refused and position in refused:
            refuse(session, result, source, position, raw, refused[position], now)
            continue
        event, reason = check_event(raw, now)
        if event is None:
            refuse(session, result, source, position, raw, str(reason), now)
            continue
        if event.event_id in fresh:
            result.duplicates += 1  # twice in one batch
            continue
        fresh[event.event_id] = _row(source, event, now)
    inserted = _insert_new(session, list(fresh.values()))
    result.records = inserted
    result.new_ids = {r.event_id for r in inserted}
    result.accepted = len(inserted)
    result.duplicates += len(fresh) - len(inserted)
    session.flush()
    return result
