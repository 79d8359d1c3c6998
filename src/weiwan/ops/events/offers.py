"""The decision at once for the events whose rule acts: may the contact be made (the contact
policy, the real-time share of the channel's capacity), and which offer it carries.

The offer is valued with the daily decisions' own implementation (``core.offer_valuation``,
the settings of the published decide.yaml as the customer's strategy arm changes them) over
the customer's published view — the churn probability raised to the risk the event implies
(the rule's ``event_risk``) — among the policies the daily run found the customer eligible for
that the arm may offer on the contact's channel. An offer type the outcomes have taught the
daily decisions about is valued at the level of its prior they published (``uplift_levels``)
and over the outcome window it was measured on, as the daily decisions value it, in the arms
that decide by the learned uplift. The most valuable one that fits the live ledger is granted
(budget, value cap, entry limit and exclusions, all read under their locks), and recorded as
an online grant.

A customer who objects to personalised automated decisions (Article 24 PIPL, the consent
ledger) gets nothing from an event rule: no contact, no offer (``objection``); what they get
instead is in docs/privacy.md. An SMS contact is checked as marketing unless the rule's
template is a service notice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy.orm import Session

from weiwan.core.decide_rules import DRIVER_NAMES, DecideConfig
from weiwan.core.event_rules import EventRule
from weiwan.core.months import add_months
from weiwan.core.offer_valuation import (
    EVENT_DRIVER,
    LEARNED_PERSISTENCE,
    LEARNED_WINDOW,
    REASON_COLUMNS,
    below_hurdle,
    candidate_prior,
    leaving_columns,
    leveled_uplift,
    score_candidates,
)
from weiwan.core.policy_rules import PolicyRule
from weiwan.core.strategy_rules import arm_of
from weiwan.ops import locks
from weiwan.ops.consents.service import automated_objectors
from weiwan.ops.contacts.policy_check import check_contacts
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.customers.service import spaced_ids
from weiwan.ops.ledger.models import OnlineGrant
from weiwan.ops.ledger.rules import LedgerRules, ledger_rules
from weiwan.ops.ledger.service import (
    MAX_MONTHS,
    Grant,
    Usage,
    budget_usage,
    cap_room,
    customer_grants,
    event_load,
)
from weiwan.ops.offers.service import UpliftLevels, latest_uplift_levels
from weiwan.ops.sms.service import service_templates
from weiwan.ops.tasks.due import day_bounds, local_today

#: why an offer was not made, in Chinese and English (the codes of the daily decisions)
WHY_NOT = {
    "no_eligible_policy": ("无可用政策", "no eligible policy"),
    "not_worth_it": ("预期价值不足", "not worth its cost"),
    "budget": ("预算用尽", "budget used up"),
    "value_cap": ("超出客户价值上限", "over the value cap"),
    "entry_limit": ("参与次数已满或政策互斥", "entry limit reached or an exclusive policy held"),
    "no_valuation": ("尚无生效的价值设置", "no valuation settings in effect yet"),
}


@dataclass
class Request:
    """One event whose rule acts for its customer."""

    record_id: int
    customer: CustomerView
    rule: EventRule
    channel: str
    #: the SLA's default action, tried when ``channel`` has no real-time capacity left
    fallback: str
    at: datetime
    #: whether to choose and grant an offer (a follow-up step carries the event's own)
    with_offer: bool = True
    #: the SMS template an ``sms`` contact would send (a service template is not marketing)
    template: str | None = None


@dataclass
class Answer:
    """What to do: the channel (None: no contact, ``blocked`` says why) and the offer."""

    channel: str | None = None
    blocked: str | None = None
    offer: dict[str, Any] | None = None
    why_not: str | None = None
    reasons_zh: list[str] = field(default_factory=list)
    reasons_en: list[str] = field(default_factory=list)


def decide(
    session: Session, requests: Sequence[Request], now: datetime, tz: ZoneInfo
) -> list[Answer]:
    """The answers for ``requests`` (in their order; the customers' locks already held)."""
    rules = ledger_rules(session)
    today = local_today(tz, now)
    answers = [Answer() for _ in requests]
    _contact(session, rules, requests, answers, tz)
    _capacity(session, rules, requests, answers, today, tz)
    offering = [
        i
        for i, a in enumerate(answers)
        if a.channel and requests[i].rule.offer and requests[i].with_offer
    ]
    if offering:
        chosen = [answers[i] for i in offering]
        _offers(session, rules, [requests[i] for i in offering], chosen, today)
        for answer in chosen:
            if answer.offer is None:
                zh, en = WHY_NOT[answer.why_not or "no_eligible_policy"]
                answer.reasons_zh.append(f"未附优惠：{zh}")
                answer.reasons_en.append(f"No offer: {en}")
    return answers


def _contact(
    session: Session,
    rules: LedgerRules,
    requests: Sequence[Request],
    answers: list[Answer],
    tz: ZoneInfo,
) -> None:
    """The contact policy for each request's channel at the first allowed time (quiet hours
    delay the contact, they do not block it): caps, do-not-disturb, objections and cool-off
    block it; an objection to automated decisions blocks every request of the customer.
    Checked for the whole batch at once."""
    asked = [(r.customer.subscriber_id, r.channel, r.at) for r in requests]
    service = service_templates(
        session, {r.template for r in requests if r.channel == "sms" and r.template}
    )
    marketing = [r.channel != "sms" or r.template not in service for r in requests]
    verdicts = check_contacts(session, rules.contact, asked, tz, marketing=marketing)
    delayed = {
        i: v.next_allowed_at
        for i, v in enumerate(verdicts)
        if not v.allowed and v.reason == "quiet_hours" and v.next_allowed_at is not None
    }
    if delayed:
        later = [(asked[i][0], asked[i][1], at) for i, at in delayed.items()]
        flags = [marketing[i] for i in delayed]
        again = check_contacts(session, rules.contact, later, tz, marketing=flags)
        for i, verdict in zip(delayed, again, strict=True):
            verdicts[i] = verdict
    refusing = automated_objectors(session, {sid for sid, _, _ in asked})
    for request, answer, verdict in zip(requests, answers, verdicts, strict=True):
        if request.customer.subscriber_id in refusing:
            answer.blocked = "objection"
        elif verdict.allowed:
            answer.channel = request.channel
        else:
            answer.blocked = verdict.reason or "contact_policy"


def _capacity(
    session: Session,
    rules: LedgerRules,
    requests: Sequence[Request],
    answers: list[Answer],
    today: date,
    tz: ZoneInfo,
) -> None:
    """The real-time share of each channel's capacity today, counted under the channels'
    locks: a request whose channel is full falls back to the SLA's default action, else it
    makes no contact (``capacity``)."""
    start, end = day_bounds(today, tz)
    wanted = {c for r in requests for c in (r.channel, r.fallback)}
    limits = {c: rules.contact.event_capacity(c, today) for c in sorted(wanted)}
    limited = {c for c, n in limits.items() if n is not None}
    if not limited:
        return
    locks.hold(session, locks.CHANNEL, limited)
    load = event_load(session, limited, start, end)
    for request, answer in zip(requests, answers, strict=True):
        if answer.channel is None:
            continue
        answer.channel = None
        for channel in dict.fromkeys((request.channel, request.fallback)):
            limit = limits.get(channel)
            if limit is None or load[channel] < limit:
                answer.channel = channel
                if limit is not None:
                    load[channel] += 1
                break
        if answer.channel is None:
            answer.blocked = "capacity"


def _reason_features(customer: CustomerView) -> dict[str, str | None]:
    """The customer's first three churn reasons' features (:data:`REASON_COLUMNS`), None
    where the published profile has none."""
    try:
        reasons = json.loads(customer.reasons or "[]")
    except ValueError:
        reasons = []
    listed = reasons if isinstance(reasons, list) else []
    features: dict[str, str | None] = {}
    for rank, column in enumerate(REASON_COLUMNS):
        reason = listed[rank] if rank < len(listed) else None
        feature = reason.get("feature") if isinstance(reason, dict) else None
        features[column] = str(feature) if feature else None
    return features


def _candidates(
    requests: Sequence[Request],
    answers: Sequence[Answer],
    rules: LedgerRules,
    config: DecideConfig,
    today: date,
) -> pd.DataFrame:
    """One row per (request, eligible policy its customer's strategy arm may offer on the
    request's channel)."""
    rows = []
    for index, (request, answer) in enumerate(zip(requests, answers, strict=True)):
        customer = request.customer
        arm = arm_of(customer.subscriber_id, config.strategies)
        allowed = config.strategies.arms[arm].policies
        risk = max(float(customer.churn_probability or 0.0), request.rule.event_risk or 0.0)
        # once per customer, not per candidate: the reasons' features, and the leaving-reason
        # mix the daily decisions match offers with where decide.yaml says so — unless the
        # event reveals the reason, which then comes first and the mix gives way
        features: dict[str, object] = {**_reason_features(customer)}
        reason = request.rule.event_reason
        if reason is None:
            features.update(leaving_columns(customer.leaving_mix))
        else:
            features[EVENT_DRIVER] = config.for_arm(arm).driver_of_reason(reason)
        for pid in spaced_ids(customer.eligible_policies):
            policy = rules.library.policies.get(pid)
            if (
                policy is None
                or not policy.is_active(today)
                or answer.channel not in policy.channels
                or (allowed is not None and pid not in allowed)
            ):
                continue
            rows.append(
                {
                    "request": index,
                    "strategy": arm,
                    "subscriber_id": customer.subscriber_id,
                    "policy_id": pid,
                    "offer_type": policy.offer_type,
                    "offer_cost": policy.total_cost(),
                    "commitment_months": policy.commitment_months,
                    "channel": answer.channel,
                    "churn_probability": risk,
                    "value": customer.future_value,
                    "arpu": customer.arpu_1m,
                    **features,
                }
            )
    return pd.DataFrame(rows)


def _offers(
    session: Session,
    rules: LedgerRules,
    requests: Sequence[Request],
    answers: Sequence[Answer],
    today: date,
) -> None:
    """Each request's offer: its candidates valued, the best that fits the ledger granted."""
    config = rules.decide
    if config is None:
        for answer in answers:
            answer.why_not = "no_valuation"
        return
    frame = _candidates(requests, answers, rules, config, today)
    if frame.empty:
        for answer in answers:
            answer.why_not = "no_eligible_policy"
        return
    learned = latest_uplift_levels(session)
    scored = pd.concat(
        [_scored(part, config, str(arm), learned) for arm, part in frame.groupby("strategy")]
    )
    scored = scored.sort_values(
        ["request", "expected_value"], ascending=[True, False], kind="mergesort"
    )
    policies = rules.library.policies
    chosen = {pid: policies[pid] for pid in set(scored["policy_id"])}
    limited = {pid: p for pid, p in chosen.items() if p.budget.limited()}
    locks.hold(session, locks.POLICY, limited)  # after the customers' and channels' locks
    usage = budget_usage(session, limited, today)
    subscribers = {r.customer.subscriber_id for r in requests}
    grants = customer_grants(session, subscribers, add_months(today, -MAX_MONTHS))
    # plain records (pandas' itertuples costs more than the valuation itself at this size)
    by_request: dict[int, list[SimpleNamespace]] = {}
    for record in scored.to_dict("records"):
        row = SimpleNamespace(**{str(k): v for k, v in record.items()})
        by_request.setdefault(int(row.request), []).append(row)
    for index, (request, answer) in enumerate(zip(requests, answers, strict=True)):
        rows = by_request.get(index)
        if rows is None:
            answer.why_not = "no_eligible_policy"
            continue
        sid = request.customer.subscriber_id
        mine = grants.setdefault(sid, [])
        for row in rows:
            why = _why_not(row, policies, usage, mine, request.customer, rules, today)
            if why is None:
                _grant(session, request, answer, row, policies[str(row.policy_id)], today)
                mine.append(Grant(str(row.policy_id), today, float(row.cost), True))
                if row.policy_id in usage:
                    usage[str(row.policy_id)].add(float(row.cost))
                break
            answer.why_not = answer.why_not or why  # the best candidate's reason


def _scored(
    candidates: pd.DataFrame, config: DecideConfig, arm: str, learned: UpliftLevels
) -> pd.DataFrame:
    """One strategy arm's candidates valued with its settings, an offer type the outcomes taught
    the daily decisions about at its published level (and over the months its published
    persistence carries it) where the arm decides by the learned uplift; ``small``: below the
    arm's hurdle."""
    settings = config.for_arm(arm)
    if learned.offer_types and config.strategies.arms[arm].uplift == "learned":
        prior = candidate_prior(candidates, settings)
        level = candidates["offer_type"].map(learned.level())
        candidates = candidates.assign(
            learned_uplift=leveled_uplift(prior, level),
            **{
                LEARNED_PERSISTENCE: candidates["offer_type"].map(learned.persistence()),
                LEARNED_WINDOW: candidates["offer_type"].map(learned.window()),
            },
        )
    scored = score_candidates(candidates, settings)
    return scored.assign(small=below_hurdle(scored, settings))


def _why_not(
    row: Any,
    policies: Mapping[str, PolicyRule],
    usage: Mapping[str, Usage],
    grants: list[Grant],
    customer: CustomerView,
    rules: LedgerRules,
    today: date,
) -> str | None:
    """Why this candidate cannot be granted now (None: it can)."""
    if row.expected_value <= 0 or row.small:
        return "not_worth_it"
    policy = policies[str(row.policy_id)]
    if policy.blocked_by_grants([(g.policy_id, g.day) for g in grants], today, policies):
        return "entry_limit"
    used = usage.get(str(row.policy_id))
    if used is not None and not used.fits(policy, float(row.cost)):
        return "budget"
    caps = rules.library.caps
    if caps is not None:
        room = cap_room(caps, customer.value_tier, customer.future_value, grants, today)
        if float(row.cost) > room + 1e-9:
            return "value_cap"
    return None


def _grant(
    session: Session, request: Request, answer: Answer, row: Any, policy: PolicyRule, today: date
) -> None:
    """Record the grant and describe it."""
    session.add(
        OnlineGrant(
            event_record_id=request.record_id,
            subscriber_id=request.customer.subscriber_id,
            policy_id=policy.id,
            channel=str(row.channel),
            cost=float(row.cost),
            expected_value=float(row.expected_value),
            granted_on=today,
        )
    )
    answer.why_not = None
    answer.offer = {
        "policy_id": policy.id,
        "name_zh": policy.name_zh,
        "name_en": policy.name_en,
        "offer_type": policy.offer_type,
        "strategy": str(row.strategy),
        "learned": bool(pd.notna(getattr(row, "learned_uplift", None))),
        "channel": str(row.channel),
        "churn_probability": round(float(row.churn_probability), 4),
        "driver": str(row.driver),
        "uplift": round(float(row.uplift), 4),
        "value_saved": round(float(row.value_saved), 2),
        "cost": round(float(row.cost), 2),
        "expected_value": round(float(row.expected_value), 2),
    }
    driver = str(row.driver)
    zh, en = DRIVER_NAMES.get(driver, (driver, driver))
    if request.rule.event_reason is not None:  # the driver is the event's, not the model's
        zh, en = f"{zh}（事件所示）", f"{en}, as the event shows"
    value = f"¥{row.expected_value:,.0f}"
    answer.reasons_zh.append(f"优惠：{policy.name_zh}（驱动：{zh}，预期价值 {value}）")
    answer.reasons_en.append(f"Offer: {policy.name_en} (driver: {en}; expected value {value})")
