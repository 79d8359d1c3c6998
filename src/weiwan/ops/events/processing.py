"""Processing events: each received event evaluated with the event rules in effect against the
customer's published view, and acted on at once.

Per event, in its own savepoint (one that fails stays ``received`` for the next pass; the
others are kept):

1. the customer: by ``subscriber_id``, else by ``msisdn`` (then recorded on the event, so
   scopes apply); unknown → ``ignored``;
2. the rules of its type whose condition holds over the event (``event.<attribute>``) and the
   view; none → ``ignored``; else the most severe (then by id) fires;
3. the rule's stable hold-out → ``processed`` with no action (measured, not contacted);
4. an open task of the same rule for the customer already → ``processed``, linked to it;
5. else a task in the SLA's channel for the customer's value tier, due ``within_minutes`` after
   the event, routed like every task (the account manager for account-manager calls, the
   branch's queue otherwise) → ``processed``, with the rule, the decision and its reasons.

The rules in effect are the ``trigger: event`` rules of the alert rules document the daily run
publishes (``yaml:alerts``); until it has, every event is ignored with that reason.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.core.event_rules import SEVERITY_RANK, EventRule, event_rules_of
from weiwan.core.logging import get_logger
from weiwan.core.yaml_safe import load_yaml
from weiwan.ops.base import as_utc
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.customers.service import spaced_ids
from weiwan.ops.events.models import EventRecord
from weiwan.ops.org.config import read_document, yaml_name
from weiwan.ops.tasks.models import Task
from weiwan.ops.tasks.service import TaskSpec, create_tasks

log = get_logger(__name__)
#: the view's columns a rule's condition may use
VIEW_FIELDS = tuple(c.name for c in CustomerView.__table__.columns if c.name != "tags")
#: events handled per pass of the backlog
BATCH = 500


@dataclass
class Processed:
    """What one pass did."""

    processed: int = 0
    ignored: int = 0
    failed: int = 0
    tasks: list[int] = field(default_factory=list)


def rules_in_effect(session: Session) -> list[EventRule]:
    """The enabled event rules of the published alert rules (none before the first run)."""
    document = read_document(session, yaml_name("alerts"))
    text = (document or {}).get("text")
    if not isinstance(text, str):
        return []
    rules, problems = event_rules_of(load_yaml(text))
    for problem in problems:
        log.warning("events.rule_refused", problem=problem)
    return [r for r in rules if r.enabled]


def _customer(session: Session, record: EventRecord) -> CustomerView | None:
    if record.subscriber_id:
        return session.scalar(
            select(CustomerView).where(CustomerView.subscriber_id == record.subscriber_id)
        )
    if record.msisdn:
        number = record.msisdn.removeprefix("+86").removeprefix("+")
        return session.scalar(select(CustomerView).where(CustomerView.msisdn == number).limit(1))
    return None


def _values(record: EventRecord, customer: CustomerView) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(customer, name) for name in VIEW_FIELDS}
    values["event.type"] = record.type
    for key, value in json.loads(record.attributes or "{}").items():
        values[f"event.{key}"] = value
    return values


def _fired(
    rules: Sequence[EventRule], record: EventRecord, customer: CustomerView
) -> list[EventRule]:
    values = _values(record, customer)
    tags = spaced_ids(customer.tags)
    hits = [r for r in rules if r.event_type == record.type and r.matches(values, tags)]
    return sorted(hits, key=lambda r: (SEVERITY_RANK[r.severity], r.id))


def _finish(
    record: EventRecord, status: str, now: datetime, note: str | None = None, **decision: Any
) -> None:
    record.status = status
    record.processed_at = now
    record.note = note
    if decision:
        record.decision = json.dumps(decision, ensure_ascii=False, default=str)


def _open_task(session: Session, rule: EventRule, subscriber_id: str) -> int | None:
    found = session.scalar(
        select(Task.id).where(
            Task.subscriber_id == subscriber_id,
            Task.status == "open",
            Task.origin.like(f"event:{rule.id}:%"),
        )
    )
    return int(found) if found is not None else None


def _act(
    session: Session,
    record: EventRecord,
    customer: CustomerView,
    fired: list[EventRule],
    now: datetime,
) -> None:
    rule = fired[0]
    step = rule.step_for(customer.value_tier)
    due = as_utc(record.occurred_at) + timedelta(minutes=step.within_minutes)
    record.rule_id = rule.id
    decision: dict[str, Any] = {
        "rule": rule.id,
        "severity": rule.severity,
        "matched": [r.id for r in fired],
        "value_tier": customer.value_tier,
        "risk_band": customer.risk_band,
        "action": step.action,
        "due_at": due.isoformat(),
        "reasons_zh": [rule.name_zh, *([rule.description_zh] if rule.description_zh else [])],
        "reasons_en": [rule.name_en, *([rule.description_en] if rule.description_en else [])],
    }
    if rule.holds_out(customer.subscriber_id):
        _finish(record, "processed", now, "holdout", **decision, holdout=True)
        return
    existing = _open_task(session, rule, customer.subscriber_id)
    if existing is not None:
        record.task_id = existing
        _finish(record, "processed", now, "task already open", **decision, holdout=False)
        return
    origin = f"event:{rule.id}:{record.id}"
    create_tasks(
        session,
        [
            TaskSpec(
                subscriber_id=customer.subscriber_id,
                source="alert",
                origin=origin,
                channel=step.action,
                priority=1000.0 - 100 * SEVERITY_RANK[rule.severity],
                due_at=due,
                title_zh=f"实时预警：{rule.name_zh}"[:200],
                title_en=f"Real-time alert: {rule.name_en}"[:200],
            )
        ],
    )
    record.task_id = session.scalar(
        select(Task.id).where(Task.origin == origin, Task.subscriber_id == customer.subscriber_id)
    )
    _finish(record, "processed", now, None, **decision, holdout=False)


def process_events(
    session: Session,
    records: Sequence[EventRecord],
    now: datetime,
    rules: Sequence[EventRule] | None = None,
) -> Processed:
    """Process ``records`` (received events) with ``rules`` (default: those in effect)."""
    rules = rules_in_effect(session) if rules is None else rules
    done = Processed()
    for record in records:
        try:
            with session.begin_nested():
                customer = _customer(session, record)
                if customer is None:
                    _finish(record, "ignored", now, "unknown subscriber")
                elif not (fired := _fired(rules, record, customer)):
                    record.subscriber_id = customer.subscriber_id
                    note = "no rule fired" if rules else "no event rules in effect yet"
                    _finish(record, "ignored", now, note)
                else:
                    record.subscriber_id = customer.subscriber_id
                    _act(session, record, customer, fired, now)
        except Exception:  # one bad event must not stop the others; it stays received
            log.exception("events.process_failed", event_id=record.event_id)
            done.failed += 1
            continue
        if record.status == "ignored":
            done.ignored += 1
        else:
            done.processed += 1
            if record.task_id is not None:
                done.tasks.append(record.task_id)
    return done


def process_backlog(session: Session, now: datetime, limit: int = BATCH) -> Processed:
    """One pass over the oldest received events (at most ``limit``); on PostgreSQL rows taken
    by another worker are skipped, so several may run."""
    query = (
        select(EventRecord)
        .where(EventRecord.status == "received")
        .order_by(EventRecord.received_at, EventRecord.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return process_events(session, list(session.scalars(query)), now)


def new_records(session: Session, source: str, event_ids: set[str]) -> list[EventRecord]:
    """The events of ``source`` with these ids, in the order they happened."""
    return list(
        session.scalars(
            select(EventRecord)
            .where(EventRecord.source == source, EventRecord.event_id.in_(sorted(event_ids)))
            .order_by(EventRecord.occurred_at, EventRecord.id)
        )
    )
