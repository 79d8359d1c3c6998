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
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from weiwan.core.event_rules import SEVERITY_RANK, EventRule
from weiwan.core.logging import get_logger
from weiwan.core.settings import get_settings
from weiwan.ops import locks
from weiwan.ops.base import as_utc, one_of
from weiwan.ops.contacts.rules import current_rules
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.customers.service import spaced_ids
from weiwan.ops.events import offers
from weiwan.ops.events.follow_ups import schedule_first
from weiwan.ops.events.models import EventRecord
from weiwan.ops.events.rules import rules_in_effect
from weiwan.ops.events.texts import send_text
from weiwan.ops.ledger.models import OnlineGrant
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


def _number(msisdn: str) -> str:
    return msisdn.removeprefix("+86").removeprefix("+")


def _customers(session: Session, records: Sequence[EventRecord]) -> dict[str, CustomerView]:
    """The records' customers, by subscriber id and by number (two queries for a batch)."""
    ids = {r.subscriber_id for r in records if r.subscriber_id}
    numbers = {_number(r.msisdn) for r in records if not r.subscriber_id and r.msisdn}
    found: dict[str, CustomerView] = {}
    if ids:
        query = select(CustomerView).where(one_of(session, CustomerView.subscriber_id, sorted(ids)))
        found.update({c.subscriber_id: c for c in session.scalars(query)})
    if numbers:
        query = select(CustomerView).where(one_of(session, CustomerView.msisdn, sorted(numbers)))
        found.update({f"#{c.msisdn}": c for c in session.scalars(query)})
    return found


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
        record.rule_id = decision.get("rule")
        record.decision = json.dumps(decision, ensure_ascii=False, default=str)


@dataclass
class _Plan:
    """An event whose rule acts: the task it needs."""

    record: EventRecord
    customer: CustomerView
    rule: EventRule
    decision: dict[str, Any]
    spec: TaskSpec

    @property
    def subscriber_id(self) -> str:
        """The customer acted for."""
        return self.customer.subscriber_id


def _plan(record: EventRecord, customer: CustomerView, fired: list[EventRule]) -> _Plan:
    rule = fired[0]
    step = rule.step_for(customer.value_tier)
    due = as_utc(record.occurred_at) + timedelta(minutes=step.within_minutes)
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
    spec = TaskSpec(
        subscriber_id=customer.subscriber_id,
        source="alert",
        origin=f"event:{rule.id}:{record.id}",
        channel=step.action,
        priority=1000.0 - 100 * SEVERITY_RANK[rule.severity],
        due_at=due,
        title_zh=f"实时预警：{rule.name_zh}"[:200],
        title_en=f"Real-time alert: {rule.name_en}"[:200],
    )
    return _Plan(record, customer, rule, decision, spec)


def _open_tasks(session: Session, subscribers: set[str]) -> dict[tuple[str, str], int]:
    """(subscriber, rule id) → an open task an event rule created for them."""
    if not subscribers:
        return {}
    rows = session.execute(
        select(Task.id, Task.subscriber_id, Task.origin).where(
            one_of(session, Task.subscriber_id, sorted(subscribers)),
            Task.status == "open",
            Task.origin.like("event:%"),
        )
    )
    found: dict[tuple[str, str], int] = {}
    for task_id, subscriber, origin in rows:
        found.setdefault((subscriber, origin.split(":")[1]), int(task_id))
    return found


def _batch(
    session: Session, records: Sequence[EventRecord], now: datetime, rules: Sequence[EventRule]
) -> Processed:
    """Process ``records`` together: a few queries per batch, not per event."""
    done = Processed()
    customers = _customers(session, records)
    plans: list[_Plan] = []
    for record in records:
        lookup = record.subscriber_id or f"#{_number(record.msisdn or '')}"
        customer = customers.get(lookup)
        if customer is None:
            _finish(record, "ignored", now, "unknown subscriber")
            done.ignored += 1
            continue
        record.subscriber_id = customer.subscriber_id
        fired = _fired(rules, record, customer)
        if not fired:
            _finish(
                record, "ignored", now, "no rule fired" if rules else "no event rules in effect yet"
            )
            done.ignored += 1
            continue
        plan = _plan(record, customer, fired)
        done.processed += 1
        if plan.rule.holds_out(customer.subscriber_id):
            _finish(record, "processed", now, "holdout", **plan.decision, holdout=True)
        else:
            plans.append(plan)
    acting_for = {p.subscriber_id for p in plans}
    # before the check: a concurrent request for the same customer waits here
    locks.hold(session, locks.CUSTOMER, acting_for)
    open_tasks = _open_tasks(session, acting_for)
    first: dict[tuple[str, str], str] = {}  # the origin of the batch's first task per key
    new: list[_Plan] = []
    for plan in plans:
        key = (plan.subscriber_id, plan.rule.id)
        if key not in open_tasks and key not in first:
            first[key] = plan.spec.origin
            new.append(plan)
    blocked = _decide_at_once(session, new, now)
    new = [p for p in new if (p.subscriber_id, p.rule.id) not in blocked]
    texts = _send_texts(session, [p for p in new if p.spec.channel == "sms"], now)
    new = [p for p in new if p.spec.channel != "sms"]
    create_tasks(session, [p.spec for p in new])
    created: dict[str, int] = {}
    if first:
        query = select(Task.origin, Task.id).where(Task.origin.in_(sorted(first.values())))
        created = {str(origin): int(task_id) for origin, task_id in session.execute(query)}
    for plan in plans:
        key = (plan.subscriber_id, plan.rule.id)
        if key in blocked:
            _finish(plan.record, "processed", now, blocked[key], **plan.decision, holdout=False)
            continue
        mine = plan.spec.origin == first.get(key)
        if key in texts:
            plan.record.message_id, note = texts[key]
            note = note if mine else "message already sent"
            _finish(plan.record, "processed", now, note, **plan.decision, holdout=False)
            if mine and plan.record.message_id is not None:
                schedule_first(session, plan.record, plan.rule)
            continue
        plan.record.task_id = (
            created.get(plan.spec.origin)
            if mine
            else (open_tasks.get(key) or created.get(first.get(key, "")))
        )
        note = None if mine else "task already open"
        _finish(plan.record, "processed", now, note, **plan.decision, holdout=False)
        if mine and plan.record.task_id is not None:
            done.tasks.append(plan.record.task_id)
            schedule_first(session, plan.record, plan.rule)
    return done


def _decide_at_once(
    session: Session, plans: Sequence[_Plan], now: datetime
) -> dict[tuple[str, str], str]:
    """The contact and the offer of each plan that creates a task (``ops.events.offers``):
    the channel (the SLA's default when the tier's is full) and the offer go into its task
    and decision; the plans that make no contact are returned, (customer, rule) → the note."""
    if not plans:
        return {}
    requests = [
        offers.Request(
            record_id=p.record.id,
            customer=p.customer,
            rule=p.rule,
            channel=p.spec.channel,
            fallback=p.rule.step_for(None).action,
            at=now,
            template=_template(p),
        )
        for p in plans
    ]
    blocked: dict[tuple[str, str], str] = {}
    for plan, answer in zip(plans, offers.decide(session, requests, now, _timezone()), strict=True):
        decision = plan.decision
        decision["reasons_zh"] = [*decision["reasons_zh"], *answer.reasons_zh]
        decision["reasons_en"] = [*decision["reasons_en"], *answer.reasons_en]
        if answer.channel is None:
            decision["blocked"] = answer.blocked
            blocked[(plan.subscriber_id, plan.rule.id)] = f"no contact: {answer.blocked}"
            continue
        decision["action"] = answer.channel
        decision["offer"] = answer.offer
        if answer.offer is None:
            decision["offer_why_not"] = answer.why_not
        policy = answer.offer["policy_id"] if answer.offer else None
        plan.spec = replace(plan.spec, channel=answer.channel, policy_id=policy)
    return blocked


def _template(plan: _Plan) -> str | None:
    """The template the plan's SMS would send: its tier's, else the rule's default one."""
    tier, default = plan.rule.step_for(plan.customer.value_tier), plan.rule.step_for(None)
    return tier.template if tier.action == "sms" else default.template


def _send_texts(
    session: Session, plans: Sequence[_Plan], now: datetime
) -> dict[tuple[str, str], tuple[int | None, str | None]]:
    """The SMS of the plans whose contact is an SMS, through the contact policy (scheduled
    past its quiet hours): (customer, rule) → (message id, note). One that cannot be sent
    (no such template …) gives back its offer's grant."""
    if not plans:
        return {}
    rules, tz = current_rules(session), _timezone()
    out: dict[tuple[str, str], tuple[int | None, str | None]] = {}
    for plan in sorted(plans, key=lambda p: p.subscriber_id):  # row locks in one order
        template = _template(plan)
        offer = plan.decision.get("offer") or {}
        message, note = send_text(
            session,
            plan.customer,
            template or "",
            plan.rule.id,
            offer.get("name_zh"),
            rules,
            tz,
            now,
        )
        if message is None:  # not sent: the offer's grant is given back
            session.execute(
                delete(OnlineGrant).where(OnlineGrant.event_record_id == plan.record.id)
            )
            plan.decision["offer"] = None
        out[(plan.subscriber_id, plan.rule.id)] = (message, note)
    return out


def _timezone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def process_events(
    session: Session,
    records: Sequence[EventRecord],
    now: datetime,
    rules: Sequence[EventRule] | None = None,
) -> Processed:
    """Process ``records`` (received events) with ``rules`` (default: those in effect): the
    batch together; should that fail, event by event, each in its own savepoint (one that fails
    stays received for the next pass)."""
    rules = rules_in_effect(session) if rules is None else rules
    try:
        with session.begin_nested():
            return _batch(session, records, now, rules)
    except Exception:
        log.exception("events.batch_failed", events=len(records))
    done = Processed()
    for record in records:
        try:
            with session.begin_nested():
                part = _batch(session, [record], now, rules)
        except Exception:  # one bad event must not stop the others
            log.exception("events.process_failed", event_id=record.event_id)
            done.failed += 1
            continue
        done.processed += part.processed
        done.ignored += part.ignored
        done.tasks += part.tasks
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
