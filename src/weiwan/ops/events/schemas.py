"""API shapes of event intake and of one event's status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from weiwan.ops.events.intake import MAX_BATCH


class EventBatchIn(BaseModel):
    """A batch of events; each is checked on its own (see ``core.event_contract``), so one bad
    event does not refuse the others."""

    events: list[Any] = Field(min_length=1, max_length=MAX_BATCH)


class RejectedOut(BaseModel):
    """A refused event: its place in the batch and why."""

    index: int
    reason: str


class IntakeOut(BaseModel):
    """What became of the batch."""

    accepted: int
    duplicates: int
    rejected: list[RejectedOut]


class EventOut(BaseModel):
    """One event, its status and what it led to."""

    source: str
    event_id: str
    type: str
    subscriber_id: str | None
    msisdn: str | None
    time: datetime
    attributes: dict[str, Any]
    received_at: datetime
    status: str
    rule_id: str | None
    decision: dict[str, Any] | None
    task_id: int | None
    message_id: int | None
    processed_at: datetime | None
    note: str | None
