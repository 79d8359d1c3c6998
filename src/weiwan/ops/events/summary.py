"""The events page's figures: how many events arrived and what became of them, how fast, and
per event rule what its actions achieved against the customers it held out.

All counted by the database (aggregates), whatever the volume, except the latency percentiles,
taken over the latest :data:`LATENCY_SAMPLE` processed events of the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, and_, case, distinct, func, select, true
from sqlalchemy.orm import Session

from weiwan.ops.base import as_utc
from weiwan.ops.contacts.models import Contact, ContactOutcome
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.events.models import EventDeadLetter, EventRecord
from weiwan.ops.events.service import READERS
from weiwan.ops.ledger.models import OnlineGrant
from weiwan.ops.org.access import Actor
from weiwan.ops.org.roles import Scope
from weiwan.ops.scope import customer_scope_clause
from weiwan.ops.tasks.models import Task

LATENCY_SAMPLE = 10_000
#: the published statuses of a customer who has left (data contract)
LEFT = ("disconnected", "ported_out")


@dataclass(frozen=True)
class RuleFigures:
    """One event rule over the window: events it fired on, customers it acted for and held
    out, tasks, contacts, acceptances, and who left on each side."""

    rule_id: str
    fired: int
    acted: int  # customers with an action (not held out)
    held_out: int  # customers held out
    tasks: int
    contacted: int  # tasks with a contact recorded
    accepted: int  # tasks with an acceptance
    left_acted: int
    left_held_out: int
    messages: int = 0  # SMS sent (or scheduled) at once
    not_contacted: int = 0  # events the contact policy or the capacity left without contact
    offers: int = 0  # offers granted at once
    offer_cost: float = 0.0  # their cost (offer and contact), yuan

    @property
    def left_rate_acted(self) -> float | None:
        return self.left_acted / self.acted if self.acted else None

    @property
    def left_rate_held_out(self) -> float | None:
        return self.left_held_out / self.held_out if self.held_out else None


@dataclass
class EventSummary:
    """The window's figures (see the module doc)."""

    since: datetime
    until: datetime
    by_status: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, int] = field(default_factory=dict)
    rejected: int = 0  # dead letters (whole operator only)
    backlog: int = 0  # received and not processed, now (whole operator only)
    per_hour: list[tuple[datetime, int]] = field(default_factory=list)
    #: seconds: "processing" (received → processed), "end_to_end" (happened → processed)
    latency: dict[str, dict[str, float | None]] = field(default_factory=dict)
    rules: list[RuleFigures] = field(default_factory=list)

    @property
    def received(self) -> int:
        return sum(self.by_status.values())


def _scope(actor: Actor) -> ColumnElement[bool]:
    if actor.scope is Scope.ALL:
        return true()
    visible = select(CustomerView.subscriber_id).where(customer_scope_clause(actor))
    return EventRecord.subscriber_id.in_(visible)


def _hour(session: Session) -> Any:
    """The hour an event was received in, as the database computes it."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc("hour", EventRecord.received_at)
    return func.strftime("%Y-%m-%d %H:00:00", EventRecord.received_at)


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    p50, p95, p99 = np.percentile(np.asarray(values), [50, 95, 99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99), "max": max(values)}


def _latency(session: Session, window: ColumnElement[bool]) -> dict[str, dict[str, float | None]]:
    rows = session.execute(
        select(EventRecord.occurred_at, EventRecord.received_at, EventRecord.processed_at)
        .where(window, EventRecord.processed_at.is_not(None))
        .order_by(EventRecord.id.desc())
        .limit(LATENCY_SAMPLE)
    ).all()
    done = [(o, r, p) for o, r, p in rows if p is not None]
    processing = [(as_utc(p) - as_utc(r)).total_seconds() for _, r, p in done]
    end_to_end = [(as_utc(p) - as_utc(o)).total_seconds() for o, _, p in done]
    return {"processing": _percentiles(processing), "end_to_end": _percentiles(end_to_end)}


def _rules(session: Session, window: ColumnElement[bool]) -> list[RuleFigures]:
    held = func.coalesce(EventRecord.note, "") == "holdout"  # NULL note: acted for
    contacted = select(Contact.task_id).where(Contact.task_id.is_not(None))
    accepted = (
        select(Contact.task_id)
        .join(ContactOutcome, ContactOutcome.contact_id == Contact.id)
        .where(ContactOutcome.outcome == "accepted")
    )
    left = CustomerView.status.in_(LEFT)
    who = EventRecord.subscriber_id
    rows = session.execute(
        select(
            EventRecord.rule_id,
            func.count(),
            func.count(distinct(case((~held, who)))),
            func.count(distinct(case((held, who)))),
            func.count(distinct(EventRecord.task_id)),
            func.count(distinct(case((Task.id.in_(contacted), Task.id)))),
            func.count(distinct(case((Task.id.in_(accepted), Task.id)))),
            func.count(distinct(case((and_(~held, left), who)))),
            func.count(distinct(case((and_(held, left), who)))),
            func.count(distinct(EventRecord.message_id)),
            func.count(case((EventRecord.note.like("no contact:%"), EventRecord.id))),
            func.count(OnlineGrant.id),
            func.coalesce(func.sum(OnlineGrant.cost), 0.0),
        )
        .outerjoin(Task, Task.id == EventRecord.task_id)
        .outerjoin(OnlineGrant, OnlineGrant.event_record_id == EventRecord.id)
        .outerjoin(CustomerView, CustomerView.subscriber_id == EventRecord.subscriber_id)
        .where(window, EventRecord.rule_id.is_not(None))
        .group_by(EventRecord.rule_id)
        .order_by(EventRecord.rule_id)
    ).all()
    return [
        replace(
            RuleFigures(str(r[0]), *(int(v or 0) for v in r[1:-1])), offer_cost=float(r[-1] or 0)
        )
        for r in rows
    ]


def event_summary(session: Session, actor: Actor, until: datetime, hours: int = 24) -> EventSummary:
    """The figures of the ``hours`` before ``until`` (events received then), in the reader's
    scope (centre heads: their branches' customers; dead letters and the backlog, which name
    no customer, for readers of the whole operator only)."""
    actor.require(*READERS)
    since = until - timedelta(hours=hours)
    window = and_(EventRecord.received_at >= since, EventRecord.received_at < until, _scope(actor))
    summary = EventSummary(since=since, until=until)
    for status, count in session.execute(
        select(EventRecord.status, func.count()).where(window).group_by(EventRecord.status)
    ):
        summary.by_status[str(status)] = int(count)
    for kind, count in session.execute(
        select(EventRecord.type, func.count()).where(window).group_by(EventRecord.type)
    ):
        summary.by_type[str(kind)] = int(count)
    hour = _hour(session)
    for bucket, count in session.execute(
        select(hour, func.count()).where(window).group_by(hour).order_by(hour)
    ):
        start = bucket if isinstance(bucket, datetime) else datetime.fromisoformat(str(bucket))
        summary.per_hour.append((as_utc(start), int(count)))
    if actor.scope is Scope.ALL:
        summary.rejected = int(
            session.scalar(
                select(func.count())
                .select_from(EventDeadLetter)
                .where(EventDeadLetter.received_at >= since, EventDeadLetter.received_at < until)
            )
            or 0
        )
        summary.backlog = int(
            session.scalar(
                select(func.count())
                .select_from(EventRecord)
                .where(EventRecord.status == "received")
            )
            or 0
        )
    summary.latency = _latency(session, window)
    summary.rules = _rules(session, window)
    return summary
