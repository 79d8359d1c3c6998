"""The event feed back to the warehouse: which churn signals arrived for whom, and what the
event rules made of them (no phone numbers: events found only by number carry the subscriber
id processing resolved, or none)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.ops.events.models import EventRecord

FEED_COLUMNS = (
    "source",
    "event_id",
    "subscriber_id",
    "type",
    "occurred_at",
    "attributes",
    "status",
    "rule_id",
    "task_id",
)


def event_feed(session: Session, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Events that happened in [``since``, ``until``), oldest first."""
    rows = session.execute(
        select(*(getattr(EventRecord, c) for c in FEED_COLUMNS))
        .where(EventRecord.occurred_at >= since, EventRecord.occurred_at < until)
        .order_by(EventRecord.occurred_at, EventRecord.id)
    )
    return [dict(zip(FEED_COLUMNS, row, strict=True)) for row in rows]
