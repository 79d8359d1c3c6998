"""Targets and rehearsal (方案预演): which customers a plan targets, which are busy in another
running campaign, the hold-out arm, the live target count, and the rehearsal on a sample with
its assumptions (see docs/campaigns.md)."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from weiwan.core.filters import FilterError
from weiwan.ops.base import utcnow
from weiwan.ops.campaigns import targeting
from weiwan.ops.campaigns.models import REHEARSED, RUNNING, Campaign, CampaignMember
from weiwan.ops.campaigns.opportunity import plan_opportunity
from weiwan.ops.campaigns.service import (
    PLANNERS,
    REHEARSABLE,
    check_branch,
    dump,
    expect,
    filter_problem,
    get_campaign,
    loads,
    plan_policies,
    require,
    schedule,
    transition,
)
from weiwan.ops.consents.service import automated_objector_clause
from weiwan.ops.contacts.policy_check import check_contact
from weiwan.ops.contacts.rules import current_rules
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.offers.service import latest_limit_prices
from weiwan.ops.org.access import Actor
from weiwan.ops.org.service import descendant_branch_ids
from weiwan.ops.scope import customer_scope_clause

# --- rehearsal assumptions (方案预演); see docs/campaigns.md --------------------------------
#: targets rehearsed in full up to this many; above it a deterministic sample, scaled up
SAMPLE_SIZE = 20_000
#: treated sample members checked against the contact policy (each check reads the history)
CONTACT_CHECK_SAMPLE = 2_000
#: local time on the schedule's first day at which the contact policy is checked
CHECK_TIME = time(10, 0)
#: share of treated members expected to take an offer, per channel (one channel's reach)
TAKE_RATES: dict[str, float] = {
    "outbound_call": 0.12,
    "account_manager_call": 0.25,
    "sms": 0.03,
    "store": 0.08,
    "hotline": 0.10,
    "self_service": 0.02,
}
#: share of a treated member's churn probability the campaign removes, per offer type
UPLIFT: dict[str, float] = {
    "discount": 0.20,
    "bonus_data": 0.12,
    "device_subsidy": 0.25,
    "prepay_and_get": 0.18,
    "care_call": 0.08,
}
DEFAULT_UPLIFT = 0.10

# ----------------------------------------------------------------------------- targets


def in_holdout(campaign_id: int, subscriber_id: str, share: float) -> bool:
    """The member's arm: a hash of campaign and subscriber, uniform on [0, 1), below ``share``
    is the hold-out. Deterministic, so rehearsal, start and any re-check agree."""
    digest = hashlib.sha256(f"{campaign_id}:{subscriber_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < share


def target_clause(session: Session, campaign: Campaign) -> ColumnElement[bool]:
    """The customers the campaign's filter matches in its branch's subtree (objectors to
    automated decisions included: see :func:`objector_clause`)."""
    try:
        matches = targeting.compile_filter(loads(campaign.target_filter))
    except FilterError as exc:
        raise filter_problem(exc, "target_filter") from exc
    branches = descendant_branch_ids(session, campaign.branch_id)
    return and_(matches, CustomerView.branch_id.in_(branches))


def objector_clause() -> ColumnElement[bool]:
    """The customer objects to personalised automated decisions (Article 24 PIPL): a campaign
    leaves them out, counted at rehearsal and start."""
    return automated_objector_clause(CustomerView.subscriber_id)


def targets_without_objectors(
    session: Session, campaign: Campaign
) -> tuple[ColumnElement[bool], int]:
    """(the campaign's targets less the objectors to automated decisions, how many objectors
    its filter matched)."""
    matched = target_clause(session, campaign)
    objecting = select(func.count()).select_from(CustomerView).where(matched, objector_clause())
    return and_(matched, ~objector_clause()), int(session.scalar(objecting) or 0)


def busy_clause(campaign_id: int) -> ColumnElement[bool]:
    """The customer is a member of another running campaign."""
    member = aliased(CampaignMember)
    other = aliased(Campaign)
    return exists().where(
        member.subscriber_id == CustomerView.subscriber_id,
        member.campaign_id == other.id,
        other.status == RUNNING,
        other.id != campaign_id,
    )


def preview_count(
    session: Session, actor: Actor, raw_filter: Any, branch_id: int | None = None
) -> int:
    """How many customers in the actor's scope (and ``branch_id``'s subtree) match."""
    actor.require(*PLANNERS)
    try:
        matches = targeting.compile_filter(raw_filter)
    except FilterError as exc:
        raise filter_problem(exc, "filter") from exc
    statement = (
        select(func.count()).select_from(CustomerView).where(matches, customer_scope_clause(actor))
    )
    if branch_id is not None:
        check_branch(session, actor, branch_id)
        statement = statement.where(
            CustomerView.branch_id.in_(descendant_branch_ids(session, branch_id))
        )
    return int(session.scalar(statement) or 0)


@dataclass(frozen=True, slots=True)
class _Target:
    subscriber_id: str
    churn_probability: float | None


def _sample(session: Session, where: ColumnElement[bool], count: int) -> list[_Target]:
    """All targets up to :data:`SAMPLE_SIZE`, else every k-th by subscriber id."""
    columns = (CustomerView.subscriber_id, CustomerView.churn_probability)
    if count <= SAMPLE_SIZE:
        rows = session.execute(select(*columns).where(where).order_by(columns[0])).all()
        return [_Target(s, p) for s, p in rows]
    step = math.ceil(count / SAMPLE_SIZE)
    numbered = (
        select(*columns, func.row_number().over(order_by=columns[0]).label("rn"))
        .where(where)
        .subquery()
    )
    rows = session.execute(
        select(numbered.c.subscriber_id, numbered.c.churn_probability)
        .where((numbered.c.rn - 1) % step == 0)
        .order_by(numbered.c.subscriber_id)
    ).all()
    return [_Target(s, p) for s, p in rows]


# ----------------------------------------------------------------------------- rehearsal


def take_rate(channels: Sequence[str]) -> float:
    """The chance a treated member takes an offer through any of ``channels``:
    1 − Π(1 − take rate of each channel)."""
    miss = 1.0
    for channel in channels:
        miss *= 1.0 - TAKE_RATES.get(channel, 0.0)
    return 1.0 - miss


def _warning(code: str, message: str, **details: Any) -> dict[str, Any]:
    """A rehearsal warning as data (the page words it in the reader's language from ``code``
    and the details) with its English ``message`` for API clients."""
    return {"code": code, **details, "message": message}


def rehearse(session: Session, actor: Actor, campaign_id: int, tz: ZoneInfo) -> Campaign:
    """Run the plan on a sample (方案预演) and store the result; draft → rehearsed."""
    campaign = get_campaign(session, actor, campaign_id, for_update=True)
    require(actor, PLANNERS, campaign.branch_id)
    expect(campaign, REHEARSABLE, "rehearse")
    start, end = schedule(campaign)
    policies = plan_policies(session, campaign)
    channels: list[str] = loads(campaign.channels)
    where, objecting = targets_without_objectors(session, campaign)
    count = int(session.scalar(select(func.count()).select_from(CustomerView).where(where)) or 0)
    overlap = int(
        session.scalar(
            select(func.count()).select_from(CustomerView).where(where, busy_clause(campaign.id))
        )
        or 0
    )
    sample = _sample(session, where, count)
    scale = count / len(sample) if sample else 0.0
    treated = [
        t for t in sample if not in_holdout(campaign.id, t.subscriber_id, campaign.holdout_share)
    ]
    treated_est = len(treated) * scale

    # contact policy at the schedule's first day, first channel
    rules = current_rules(session)
    channel = channels[0]
    at = datetime.combine(start, CHECK_TIME, tzinfo=tz)
    step = max(1, math.ceil(len(treated) / CONTACT_CHECK_SAMPLE))
    checked = treated[::step]
    reasons: Counter[str] = Counter()
    for target in checked:
        verdict = check_contact(session, rules, target.subscriber_id, channel, at, tz)
        if not verdict.allowed:
            reasons[verdict.reason or "blocked"] += 1
    check_scale = treated_est / len(checked) if checked else 0.0
    blocked = {reason: round(n * check_scale) for reason, n in sorted(reasons.items())}

    # expected cost and saves
    rate = take_rate(channels)
    uplift = sum(UPLIFT.get(p.offer_type, DEFAULT_UPLIFT) for p in policies) / len(policies)
    mean_cost = sum(p.total_cost for p in policies) / len(policies)
    saves = sum((t.churn_probability or 0.0) * uplift for t in treated) * scale
    cost = treated_est * rate * mean_cost

    # channel load per day against capacity
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    load: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    contacts_per_day: dict[str, float] = {}
    working_days: dict[str, int] = {}
    for name in channels:
        capacities = {day: rules.capacity(name, day) for day in days}
        working = [day for day in days if capacities[day] != 0]
        per_day = treated_est / len(working) if working else treated_est
        contacts_per_day[name], working_days[name] = per_day, len(working) or len(days)
        over = 0
        for day in days:
            capacity = capacities[day]
            planned = per_day if day in working or not working else 0.0
            is_over = capacity is not None and planned > capacity
            over += is_over
            load.append(
                {
                    "channel": name,
                    "day": day.isoformat(),
                    "load": round(planned, 1),
                    "capacity": capacity,
                    "over": is_over,
                }
            )
        if over:
            warnings.append(
                _warning(
                    "over_capacity",
                    f"{name}: planned load exceeds capacity on {over} day(s)",
                    channel=name,
                    days=over,
                )
            )
    for policy in policies:
        if policy.valid_from > start or policy.valid_to < end:
            warnings.append(
                _warning(
                    "policy_not_valid_throughout",
                    f"policy {policy.policy_id} is valid {policy.valid_from} – "
                    f"{policy.valid_to}, not over the whole schedule",
                    policy_id=policy.policy_id,
                    valid_from=policy.valid_from.isoformat(),
                    valid_to=policy.valid_to.isoformat(),
                )
            )
        offered = set(policy.channels.split())
        missing = [c for c in channels if c not in offered]
        if missing:
            warnings.append(
                _warning(
                    "policy_not_on_channel",
                    f"policy {policy.policy_id} is not offered on {', '.join(missing)}",
                    policy_id=policy.policy_id,
                    channels=missing,
                )
            )
    if overlap:
        warnings.append(
            _warning(
                "in_running_campaign",
                f"{overlap} target(s) are already in a running campaign",
                count=overlap,
            )
        )
    if objecting:
        warnings.append(
            _warning(
                "refuse_automated",
                f"{objecting} matching customer(s) refuse automated decisions and are left out",
                count=objecting,
            )
        )
    if count == 0:
        warnings.append(_warning("no_target", "the filter matches no customer"))
    opportunity = plan_opportunity(
        latest_limit_prices(session), contacts_per_day, working_days, policies, treated_est * rate
    )

    campaign.rehearsal = dump(
        {
            "at": utcnow().isoformat(),
            "target_count": count,
            "sample_size": len(sample),
            "scale": round(scale, 6),
            "treated": round(treated_est),
            "holdout": count - round(treated_est),
            "overlap_running": overlap,
            "objecting_automated": objecting,
            "contact_conflicts": {
                "channel": channel,
                "at": at.isoformat(),
                "checked": len(checked),
                "blocked": blocked,
                "blocked_total": sum(blocked.values()),
            },
            "expected": {
                "take_rate": round(rate, 6),
                "uplift": round(uplift, 6),
                "mean_policy_cost": round(mean_cost, 2),
                "accepting": round(treated_est * rate, 1),
                "cost": round(cost, 2),
                "saves": round(saves, 2),
            },
            "load": load,
            "opportunity": opportunity,
            "warnings": warnings,
        }
    )
    transition(session, campaign, actor, REHEARSED, note={"kind": "rehearsed", "targets": count})
    return campaign
