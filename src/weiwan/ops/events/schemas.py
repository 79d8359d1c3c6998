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


class LatencyOut(BaseModel):
    """Percentiles in seconds (None: nothing processed in the window)."""

    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None


class RuleFiguresOut(BaseModel):
    """One event rule over the window (left rates: share of the customers who have left)."""

    rule_id: str
    fired: int
    acted: int
    held_out: int
    tasks: int
    contacted: int
    accepted: int
    left_acted: int
    left_held_out: int
    messages: int
    not_contacted: int
    offers: int
    offer_cost: float
    left_rate_acted: float | None
    left_rate_held_out: float | None


class HourOut(BaseModel):
    """Events received in one hour."""

    hour: datetime
    events: int


class EventSummaryOut(BaseModel):
    """The events of the window: by status and type, per hour, latency, per rule."""

    since: datetime
    until: datetime
    received: int
    by_status: dict[str, int]
    by_type: dict[str, int]
    rejected: int
    backlog: int
    per_hour: list[HourOut]
    latency: dict[str, LatencyOut]
    rules: list[RuleFiguresOut]
