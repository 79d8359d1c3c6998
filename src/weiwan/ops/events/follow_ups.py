"""Follow-up steps of the event rules (跟进): durable timers in the operational database.

When an event's first contact is made (a task or an SMS) and its rule has ``follow_up`` steps,
the first step's timer is stored, due ``after_hours`` after the event. ``fire_due`` (the
command ``weiwan events follow-ups``, every minute) takes the due timers — on PostgreSQL
``SKIP LOCKED``, so several runs never fire one twice — and for each, under the customer's
lock:

- the customer accepted an offer in any channel since the event → ``accepted``, the sequence
  ends;
- the customer has left (published status disconnected or ported out) or is no longer
  published → ``lost``, the sequence ends;
- the rule is gone or no longer has the step → ``stopped``;
- else the step's contact, through the contact policy and the real-time share of the
  channel's capacity like the first (``offers.decide``, no new grant): a task due
  ``within_minutes`` from now, or an SMS (scheduled past the quiet hours), carrying the
  event's offer → ``done``; refused → ``blocked`` with the reason. Then the next step's
  timer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from weiwan.core.event_rules import EventRule, FollowUp
from weiwan.core.settings import get_settings
from weiwan.ops import locks
from weiwan.ops.base import as_utc
from weiwan.ops.contacts.models import Acceptance
from weiwan.ops.contacts.rules import current_rules
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.events import offers
from weiwan.ops.events.models import EventRecord, FollowUpTimer
from weiwan.ops.events.rules import rules_in_effect
from weiwan.ops.events.texts import send_text
from weiwan.ops.ledger.models import OnlineGrant
from weiwan.ops.ledger.rules import ledger_rules
from weiwan.ops.tasks.models import Task
from weiwan.ops.tasks.service import TaskSpec, create_tasks

#: published statuses of a customer who has left
LEFT = ("disconnected", "ported_out")
#: timers fired per pass
BATCH = 200


@dataclass
class Fired:
    """What one pass did, by the timers' new status."""

    done: int = 0
    blocked: int = 0
    accepted: int = 0
    lost: int = 0
    stopped: int = 0

    def count(self, status: str) -> None:
        """One more timer ended in ``status``."""
        setattr(self, status, getattr(self, status) + 1)


def schedule_first(session: Session, record: EventRecord, rule: EventRule) -> None:
    """The first follow-up timer of ``record``'s sequence, when its rule has one."""
    if rule.follow_up and record.subscriber_id:
        _schedule(session, record, rule, 1)


def _schedule(session: Session, record: EventRecord, rule: EventRule, step: int) -> None:
    follow = rule.follow_up[step - 1]
    session.add(
        FollowUpTimer(
            event_record_id=record.id,
            subscriber_id=record.subscriber_id,
            rule_id=rule.id,
            step=step,
            due_at=as_utc(record.occurred_at) + timedelta(hours=follow.after_hours),
        )
    )


def fire_due(
    session: Session,
    now: datetime,
    rules: dict[str, EventRule] | None = None,
    limit: int = BATCH,
) -> Fired:
    """Fire the timers due at ``now`` (at most ``limit``) with the event ``rules`` (default:
    those in effect)."""
    if rules is None:
        rules = {r.id: r for r in rules_in_effect(session)}
    query = (
        select(FollowUpTimer)
        .where(FollowUpTimer.status == "waiting", FollowUpTimer.due_at <= now)
        .order_by(FollowUpTimer.due_at, FollowUpTimer.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    timers = list(session.scalars(query))
    fired = Fired()
    tz = ZoneInfo(get_settings().timezone)
    # every customer's lock first, sorted (the global order: no deadlock with event batches)
    locks.hold(session, locks.CUSTOMER, [t.subscriber_id for t in timers])
    for timer in timers:
        record = session.get_one(EventRecord, timer.event_record_id)
        rule = rules.get(timer.rule_id)
        status, note = _settle(session, timer, record, rule)
        if status is None and rule is not None:
            status, note = _act(
                session, timer, record, rule, rule.follow_up[timer.step - 1], now, tz
            )
        timer.status, timer.note, timer.fired_at = status or "stopped", note, now
        fired.count(timer.status)
        if (
            rule is not None
            and timer.status in ("done", "blocked")
            and timer.step < len(rule.follow_up)
        ):
            _schedule(session, record, rule, timer.step + 1)
    return fired


def _settle(
    session: Session, timer: FollowUpTimer, record: EventRecord, rule: EventRule | None
) -> tuple[str | None, str | None]:
    """The status that ends the sequence before the step acts, if any."""
    accepted = session.scalar(
        select(
            exists().where(
                Acceptance.subscriber_id == timer.subscriber_id,
                Acceptance.at >= record.occurred_at,
            )
        )
    )
    if accepted:
        return "accepted", "the customer accepted an offer"
    status = session.scalar(
        select(CustomerView.status).where(CustomerView.subscriber_id == timer.subscriber_id)
    )
    if status is None or status in LEFT:
        return "lost", f"the customer left ({status or 'not published'})"
    if rule is None or timer.step > len(rule.follow_up):
        return "stopped", "the rule no longer has this step"
    return None, None


def _act(
    session: Session,
    timer: FollowUpTimer,
    record: EventRecord,
    rule: EventRule,
    follow: FollowUp,
    now: datetime,
    tz: ZoneInfo,
) -> tuple[str, str | None]:
    """The step's contact: a task or an SMS with the event's offer, or why none."""
    customer = session.get_one(CustomerView, timer.subscriber_id)
    request = offers.Request(
        record_id=record.id,
        customer=customer,
        rule=rule,
        channel=follow.action,
        fallback=follow.action,
        at=now,
        with_offer=False,
        template=follow.template,
    )
    (answer,) = offers.decide(session, [request], now, tz)
    if answer.channel is None:
        return "blocked", f"no contact: {answer.blocked}"
    policy_id = session.scalar(
        select(OnlineGrant.policy_id).where(OnlineGrant.event_record_id == record.id)
    )
    if follow.action == "sms":
        policy = ledger_rules(session).library.policies.get(policy_id or "")
        offer_name = policy.name_zh if policy else None
        rules = current_rules(session)
        template = follow.template or ""
        message, note = send_text(session, customer, template, rule.id, offer_name, rules, tz, now)
        timer.message_id = message
        return ("blocked" if message is None else "done"), note
    origin = f"follow_up:{rule.id}:{record.id}:{timer.step}"
    create_tasks(
        session,
        [
            TaskSpec(
                subscriber_id=customer.subscriber_id,
                source="alert",
                origin=origin,
                channel=answer.channel,
                policy_id=policy_id,
                priority=900.0,
                due_at=now + timedelta(minutes=follow.within_minutes),
                title_zh=f"实时预警跟进：{rule.name_zh}"[:200],
                title_en=f"Real-time alert follow-up: {rule.name_en}"[:200],
            )
        ],
    )
    timer.task_id = session.scalar(select(Task.id).where(Task.origin == origin))
    return "done", None


@dataclass(frozen=True)
class FollowUpView:
    """One follow-up step of a customer's events (for the customer card)."""

    rule_id: str
    name_zh: str
    name_en: str
    step: int
    due_at: datetime
    status: str
    note: str | None


def follow_ups_of(session: Session, subscriber_id: str, since: datetime) -> list[FollowUpView]:
    """The customer's follow-up steps of events since ``since``: waiting ones first (soonest
    first), then the fired ones, newest first; the caller has checked scope."""
    rows = session.scalars(
        select(FollowUpTimer)
        .where(FollowUpTimer.subscriber_id == subscriber_id, FollowUpTimer.created_at >= since)
        .order_by(FollowUpTimer.due_at.desc())
        .limit(20)
    )
    names = {r.id: (r.name_zh, r.name_en) for r in rules_in_effect(session)}
    views = [
        FollowUpView(
            t.rule_id,
            *names.get(t.rule_id, (t.rule_id, t.rule_id)),
            t.step,
            t.due_at,
            t.status,
            t.note,
        )
        for t in rows
    ]
    waiting = sorted((v for v in views if v.status == "waiting"), key=lambda v: v.due_at)
    return waiting + [v for v in views if v.status != "waiting"]
