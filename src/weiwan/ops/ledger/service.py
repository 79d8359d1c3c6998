"""The live ledger: what the daily decisions and the real-time events have granted, read at the
moment of a decision so that together they never pass a limit.

- **Policy budgets** (count and money per budget window, ``PolicyRule.budget_window``): the
  published days' grants (``budget_usage``, one row per day and policy) plus the online grants
  (``online_grants``). An online decision reads them under the policy's lock and adds its own
  grant in the same transaction; the hand-over of a published day re-checks that day's grants
  under the same locks and withdraws the least valuable ones that no longer fit (events granted
  since the daily run read its inputs).
- **Value caps and entry limits** per customer: the customer's published grants (decisions
  acted on, not held out) and online grants, read under the customer's lock.
- **Channel capacity**: a day's capacity is split by the contact policy's
  ``reserve_for_events``: the daily decisions plan at most the rest, the events of that local
  day use at most the reserve (counted from their tasks under the channel's lock), so the two
  never pass the capacity together.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from weiwan.core.months import add_months
from weiwan.core.policy_rules import PolicyRule, ValueCapsRule
from weiwan.ops import locks
from weiwan.ops.base import one_of
from weiwan.ops.customers.models import CustomerView, PublishedDecision
from weiwan.ops.ledger.models import BatchUsage, OnlineGrant
from weiwan.ops.ledger.rules import LedgerRules, ledger_rules
from weiwan.ops.sms.models import SmsMessage
from weiwan.ops.tasks.models import Task

#: the longest window a value cap or an entry limit looks back (months, as the rules allow)
MAX_MONTHS = 120
#: a published decision that grants an offer: acted on, not held out, with a policy
DAILY_GRANT = (
    PublishedDecision.action.is_(True),
    PublishedDecision.holdout.is_(False),
    PublishedDecision.policy_id.is_not(None),
)


@dataclass
class Usage:
    """Grants counted against one policy's budget window."""

    count: int = 0
    money: float = 0.0

    def room(self, policy: PolicyRule) -> tuple[float, float]:
        """(grants, yuan) the budget still allows (``inf`` where unlimited)."""
        budget = policy.budget
        count = math.inf if budget.count is None else budget.count - self.count
        money = math.inf if budget.money is None else budget.money - self.money
        return count, money

    def fits(self, policy: PolicyRule, cost: float) -> bool:
        """Whether one more grant costing ``cost`` stays within the budget."""
        count, money = self.room(policy)
        return count >= 1 and money >= cost - 1e-9

    def add(self, cost: float) -> None:
        """Count one more grant costing ``cost``."""
        self.count += 1
        self.money += cost


@dataclass(frozen=True)
class Grant:
    """One earlier grant of a customer: policy, day, cost."""

    policy_id: str
    day: date
    cost: float
    online: bool = False


def budget_usage(
    session: Session,
    policies: Mapping[str, PolicyRule],
    day: date,
    *,
    without_day: date | None = None,
) -> dict[str, Usage]:
    """Each policy's grants in its budget window as of ``day``: published days' (but
    ``without_day``'s) and online ones. Hold the policies' locks first."""
    if not policies:
        return {}
    windows = {pid: p.budget_window(day) for pid, p in policies.items()}
    first = min(w[0] for w in windows.values())
    last = max(w[1] for w in windows.values())
    ids = sorted(policies)
    used = {pid: Usage() for pid in ids}
    batch = select(BatchUsage.policy_id, BatchUsage.day, BatchUsage.count, BatchUsage.money).where(
        BatchUsage.policy_id.in_(ids), BatchUsage.day.between(first, last)
    )
    online = (
        select(
            OnlineGrant.policy_id,
            OnlineGrant.granted_on,
            func.count(),
            func.coalesce(func.sum(OnlineGrant.cost), 0.0),
        )
        .where(OnlineGrant.policy_id.in_(ids), OnlineGrant.granted_on.between(first, last))
        .group_by(OnlineGrant.policy_id, OnlineGrant.granted_on)
    )
    for query, is_batch in ((batch, True), (online, False)):
        for pid, when, count, money in session.execute(query):
            start, end = windows[pid]
            if not start <= when <= end or (is_batch and when == without_day):
                continue
            used[pid].count += int(count)
            used[pid].money += float(money)
    return used


def customer_grants(
    session: Session, subscribers: Iterable[str], since: date
) -> dict[str, list[Grant]]:
    """Each customer's grants since ``since`` (published decisions acted on, not held out, and
    online grants). Hold the customers' locks first."""
    ids = sorted(set(subscribers))
    out: dict[str, list[Grant]] = defaultdict(list)
    if not ids:
        return out
    published = select(
        PublishedDecision.subscriber_id,
        PublishedDecision.policy_id,
        PublishedDecision.snapshot_date,
        PublishedDecision.cost,
    ).where(
        one_of(session, PublishedDecision.subscriber_id, ids),
        PublishedDecision.snapshot_date >= since,
        *DAILY_GRANT,
    )
    online = select(
        OnlineGrant.subscriber_id, OnlineGrant.policy_id, OnlineGrant.granted_on, OnlineGrant.cost
    ).where(one_of(session, OnlineGrant.subscriber_id, ids), OnlineGrant.granted_on >= since)
    for query, is_online in ((published, False), (online, True)):
        for sid, pid, when, cost in session.execute(query):
            out[str(sid)].append(Grant(str(pid), when, float(cost or 0.0), is_online))
    return out


def cap_room(
    caps: ValueCapsRule,
    value_tier: str | None,
    future_value: float | None,
    grants: Sequence[Grant],
    day: date,
) -> float:
    """Yuan a customer's value cap still allows on ``day``: the cap less what ``grants``
    gave within its window (the online decision and the hand-over's check both ask this)."""
    since = add_months(day, -caps.per_months)
    spent = sum(g.cost for g in grants if since < g.day <= day)
    return caps.cap_for(value_tier, future_value) - spent


def event_load(
    session: Session, channels: Iterable[str], start: datetime, end: datetime
) -> dict[str, int]:
    """Contacts real-time events made in each channel between ``start`` and ``end`` (a local
    day): their tasks and their follow-ups' tasks, and for ``sms`` their messages (follow-up
    SMS included: they carry ``event:<rule>`` too). Hold the channels' locks first."""
    names = sorted(set(channels))
    load = dict.fromkeys(names, 0)
    staffed = [c for c in names if c != "sms"]
    if staffed:
        rows = session.execute(
            select(Task.channel, func.count())
            .where(
                Task.channel.in_(staffed),
                Task.created_at >= start,
                Task.created_at < end,
                or_(Task.origin.like("event:%"), Task.origin.like("follow_up:%")),
            )
            .group_by(Task.channel)
        )
        load.update({str(c): int(n) for c, n in rows})
    if "sms" in load:
        load["sms"] = int(
            session.scalar(
                select(func.count()).where(
                    SmsMessage.alert_rule.like("event:%"),
                    SmsMessage.status != "blocked",
                    SmsMessage.created_at >= start,
                    SmsMessage.created_at < end,
                )
            )
            or 0
        )
    return load


# ----------------------------------------------------------------------------- the daily side


def record_batch_usage(connection: Connection | Session, snapshot: date) -> None:
    """``budget_usage`` of ``snapshot`` from its published decisions (replaced: idempotent);
    called by the publication of the day's decisions and after the hand-over's check."""
    connection.execute(delete(BatchUsage).where(BatchUsage.day == snapshot))
    granted = (
        select(
            PublishedDecision.snapshot_date,
            PublishedDecision.policy_id,
            func.count(),
            func.coalesce(func.sum(PublishedDecision.cost), 0.0),
        )
        .where(
            PublishedDecision.snapshot_date == snapshot,
            *DAILY_GRANT,
        )
        .group_by(PublishedDecision.snapshot_date, PublishedDecision.policy_id)
    )
    connection.execute(
        insert(BatchUsage).from_select(["day", "policy_id", "count", "money"], granted)
    )


@dataclass
class _Row:
    id: int
    subscriber_id: str
    policy_id: str
    cost: float
    value: float


def withdraw_over_limits(
    session: Session, snapshot: date, today: date, rules: LedgerRules | None = None
) -> dict[str, int]:
    """Before a published day is handed over: its grants checked again against the budgets
    and value caps with every online grant made since the daily run read its inputs; the least
    valuable grants that no longer fit are withdrawn (``action`` false, ``outcome`` budget or
    value_cap) and ``budget_usage`` rewritten. A day already handed over (its tasks exist) is
    left as it is. Counts of the grants withdrawn."""
    handed_over = select(Task.id).where(Task.origin == f"decision:{snapshot.isoformat()}")
    if session.scalar(handed_over.limit(1)) is not None:
        return {"withdrawn_budget": 0, "withdrawn_value_cap": 0}  # checked when handed over
    rules = rules or ledger_rules(session)
    policies = rules.library.policies
    query = select(
        PublishedDecision.id,
        PublishedDecision.subscriber_id,
        PublishedDecision.policy_id,
        PublishedDecision.cost,
        PublishedDecision.expected_value,
    ).where(
        PublishedDecision.snapshot_date == snapshot,
        *DAILY_GRANT,
    )
    rows = [
        _Row(int(i), str(s), str(p), float(c or 0.0), float(v or 0.0))
        for i, s, p, c, v in session.execute(query)
    ]
    limited = {r.policy_id: policies[r.policy_id] for r in rows if r.policy_id in policies}
    limited = {pid: p for pid, p in limited.items() if p.budget.limited()}
    withdrawn: dict[int, str] = {}
    if limited:
        locks.hold(session, locks.POLICY, limited)
        usage = budget_usage(session, limited, today, without_day=snapshot)
        for row in sorted(rows, key=lambda r: (-r.value, r.id)):
            policy = limited.get(row.policy_id)
            if policy is None:
                continue
            if usage[row.policy_id].fits(policy, row.cost):
                usage[row.policy_id].add(row.cost)
            else:
                withdrawn[row.id] = "budget"
    withdrawn.update(_over_value_caps(session, rules, rows, snapshot, today, withdrawn))
    for reason in ("budget", "value_cap"):
        ids = [i for i, r in withdrawn.items() if r == reason]
        for part in range(0, len(ids), 1000):
            session.execute(
                update(PublishedDecision)
                .where(PublishedDecision.id.in_(ids[part : part + 1000]))
                .values(action=False, outcome=reason)
            )
    record_batch_usage(session, snapshot)
    return {
        "withdrawn_budget": sum(1 for r in withdrawn.values() if r == "budget"),
        "withdrawn_value_cap": sum(1 for r in withdrawn.values() if r == "value_cap"),
    }


def _over_value_caps(
    session: Session,
    rules: LedgerRules,
    rows: Sequence[_Row],
    snapshot: date,
    today: date,
    withdrawn: Mapping[int, str],
) -> dict[int, str]:
    """The day's grants over their customer's value cap once the online grants made after the
    daily run's inputs (later than ``snapshot``) are counted: only those customers can be."""
    caps = rules.library.caps
    if caps is None:
        return {}
    late = set(
        session.scalars(
            select(OnlineGrant.subscriber_id).where(OnlineGrant.granted_on > snapshot).distinct()
        )
    )
    mine = [r for r in rows if r.subscriber_id in late and r.id not in withdrawn]
    if not mine:
        return {}
    subscribers = {r.subscriber_id for r in mine}
    views = {
        sid: (tier, value)
        for sid, tier, value in session.execute(
            select(
                CustomerView.subscriber_id, CustomerView.value_tier, CustomerView.future_value
            ).where(CustomerView.subscriber_id.in_(sorted(subscribers)))
        )
    }
    grants = customer_grants(session, subscribers, add_months(today, -caps.per_months))
    out: dict[int, str] = {}
    for sid in sorted(subscribers):
        tier, value = views.get(sid, (None, None))
        earlier = [g for g in grants.get(sid, []) if g.online or g.day != snapshot]
        room = cap_room(caps, tier, value, earlier, today)
        for row in sorted((r for r in mine if r.subscriber_id == sid), key=lambda r: -r.value):
            if row.cost > room + 1e-9:
                out[row.id] = "value_cap"
            else:
                room -= row.cost
    return out


def grant_feed(session: Session, since: datetime, until: datetime) -> list[tuple[object, ...]]:
    """The online grants made between ``since`` and ``until`` for the warehouse
    (``ops_online_grants``): subscriber, policy, channel, cost, expected value, time."""
    rows = session.execute(
        select(
            OnlineGrant.subscriber_id,
            OnlineGrant.policy_id,
            OnlineGrant.channel,
            OnlineGrant.cost,
            OnlineGrant.expected_value,
            OnlineGrant.created_at,
        )
        .where(OnlineGrant.created_at >= since, OnlineGrant.created_at < until)
        .order_by(OnlineGrant.id)
    )
    return [tuple(r) for r in rows]


#: the columns of :func:`grant_feed`
GRANT_COLUMNS = ("subscriber_id", "policy_id", "channel", "cost", "expected_value", "granted_at")
