"""Campaigns (四步一库): plan, rehearse on a sample, approve level by level, run, evaluate
against the hold-out, and keep successful plans in the plan library to clone.

States::

    draft ─rehearse→ rehearsed ─submit→ submitted ─approve (last level)→ approved ─start→ running
      ▲                  │                  │  └─approve (not last)→ submitted (next level)
      └──── edit ────────┴──────────────────┴─reject→ rejected ─edit→ draft
    running ─complete→ completed ─evaluate→ evaluated (evaluate again to refresh the figures)

Editing a rehearsed, submitted or rejected plan sends it back to draft and drops its rehearsal
(editing a submitted plan withdraws it from approval); an approved or later plan cannot change.

Who may do what (PRODUCT.md "Who uses it": centre heads plan campaigns, the director approves
them, analysts define target groups):

- plan (create, edit, rehearse, clone, preview a count): centre head (for the branches they
  see), director, analyst. The analyst builds targets, so may draft and rehearse a plan, but
  does not own a centre's work and may not submit it.
- submit: centre head of the plan's branch (or a parent branch), director.
- approve / reject: whoever holds the role of the current level of the branch's approval chain,
  may approve (roles table) and sees the plan's branch; never the plan's creator.
- start / complete / evaluate: centre head of the plan's branch (or a parent), director.
- read: director, analyst, admin all plans; centre heads their branches' plans; agents, shift
  leads, store clerks and hotline agents the running campaigns of their branch (and of the
  branches above it), read-only.
- approval chains: configured by the admin (audited as config_change).

Targets are the customers of the published ``customer_view`` that match the plan's filter
(:mod:`.targeting`) within the plan's branch and its sub-branches. Rehearsal and evaluation
formulas and their assumptions: docs/campaigns.md and the constants below.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, func, insert, select, true, update
from sqlalchemy.orm import Session, aliased

from weiwan.core.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from weiwan.core.filters import FilterError
from weiwan.ops.base import utcnow
from weiwan.ops.campaigns import targeting
from weiwan.ops.campaigns.models import (
    APPROVED,
    COMPLETED,
    DRAFT,
    EVALUATED,
    HOLDOUT,
    REHEARSED,
    REJECTED,
    RUNNING,
    SUBMITTED,
    TREATED,
    ApprovalStep,
    Campaign,
    CampaignMember,
    CampaignTransition,
)
from weiwan.ops.campaigns.schemas import CampaignCreate, CampaignUpdate
from weiwan.ops.contacts.models import Acceptance, Contact
from weiwan.ops.contacts.policy_check import check_contact
from weiwan.ops.contacts.rules import current_rules
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.customers.service import customer_scope_clause
from weiwan.ops.offers.models import PublishedPolicy
from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import Branch
from weiwan.ops.org.roles import Role, Scope, permissions
from weiwan.ops.org.service import AuditAction, audit, descendant_branch_ids
from weiwan.ops.tasks.models import Task
from weiwan.ops.tasks.service import STAFFED_CHANNELS, TaskSpec, create_tasks

PLANNERS = (Role.CENTRE_HEAD, Role.DIRECTOR, Role.ANALYST)
SUBMITTERS = (Role.CENTRE_HEAD, Role.DIRECTOR)
RUNNERS = (Role.CENTRE_HEAD, Role.DIRECTOR)
READ_ALL = (Role.DIRECTOR, Role.ANALYST, Role.ADMIN)
READ_RUNNING = (Role.AGENT, Role.SHIFT_LEAD, Role.STORE_CLERK, Role.HOTLINE_AGENT)
CHAIN_READERS = (Role.ADMIN, Role.DIRECTOR, Role.CENTRE_HEAD)
#: the approval chain when none is configured: centre head, then director
DEFAULT_CHAIN = (Role.CENTRE_HEAD, Role.DIRECTOR)
EDITABLE = (DRAFT, REHEARSED, SUBMITTED, REJECTED)
REHEARSABLE = (DRAFT, REHEARSED, REJECTED)
LIBRARY = (COMPLETED, EVALUATED)

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
#: a member is retained when the latest customer view still has them with this status
ACTIVE = "active"
PAGE = 5_000
OPEN_TASK = "open"
EXPIRED_TASK = "expired"


# ----------------------------------------------------------------------------- helpers


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def loads(text: str | None) -> Any:
    """A JSON column's value (``None`` stays ``None``)."""
    return None if text is None else json.loads(text)


def in_holdout(campaign_id: int, subscriber_id: str, share: float) -> bool:
    """The member's arm: a hash of campaign and subscriber, uniform on [0, 1), below ``share``
    is the hold-out. Deterministic, so rehearsal, start and any re-check agree."""
    digest = hashlib.sha256(f"{campaign_id}:{subscriber_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < share


def _today(tz: ZoneInfo) -> date:
    return datetime.now(tz).date()


def _ancestors(session: Session, branch_id: int) -> list[int]:
    parents = dict(session.execute(select(Branch.id, Branch.parent_id)).all())
    found: list[int] = []
    current = parents.get(branch_id)
    while current is not None and current not in found:
        found.append(current)
        current = parents.get(current)
    return found


def _sees_branch(actor: Actor, branch_id: int) -> bool:
    return actor.scope is Scope.ALL or branch_id in actor.branch_ids


def _require(actor: Actor, roles: Sequence[Role], branch_id: int) -> None:
    """The actor has one of ``roles`` and (for branch roles) sees ``branch_id``."""
    actor.require(*roles)
    if not _sees_branch(actor, branch_id):
        raise PermissionDeniedError("this plan belongs to a branch outside your scope")


def _filter_problem(exc: FilterError, field: str) -> InvalidRequestError:
    path = exc.path if exc.path and exc.path != "(filter)" else ""
    where = f"{field}.{path}" if path else field
    return InvalidRequestError(exc.reason if exc.path else str(exc), field=where)


def visible_clause(session: Session, actor: Actor) -> ColumnElement[bool]:
    """Campaigns the actor may read (see module doc)."""
    if actor.role in READ_ALL:
        return true()
    if actor.role is Role.CENTRE_HEAD:
        return Campaign.branch_id.in_(actor.branch_ids)
    if actor.role in READ_RUNNING:
        branches = {actor.branch_id, *_ancestors(session, actor.branch_id)}
        return and_(Campaign.status == RUNNING, Campaign.branch_id.in_(branches))
    raise PermissionDeniedError(f"role {actor.role.value} may not see campaigns")


def get_campaign(
    session: Session, actor: Actor, campaign_id: int, *, for_update: bool = False
) -> Campaign:
    """The campaign if it exists and the actor may read it (404 otherwise)."""
    statement = select(Campaign).where(Campaign.id == campaign_id, visible_clause(session, actor))
    if for_update:
        statement = statement.with_for_update()
    found = session.scalar(statement)
    if found is None:
        raise NotFoundError(f"campaign {campaign_id} not found")
    return found


def list_campaigns(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    branch_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[Campaign]:
    """Campaigns in scope, newest first."""
    statement = select(Campaign).where(visible_clause(session, actor))
    if status is not None:
        statement = statement.where(Campaign.status == status)
    if branch_id is not None:
        statement = statement.where(Campaign.branch_id == branch_id)
    return session.scalars(statement.order_by(Campaign.id.desc()).limit(limit).offset(offset)).all()


def history(session: Session, campaign_id: int) -> Sequence[CampaignTransition]:
    """The campaign's transitions, oldest first."""
    return session.scalars(
        select(CampaignTransition)
        .where(CampaignTransition.campaign_id == campaign_id)
        .order_by(CampaignTransition.id)
    ).all()


def _transition(
    session: Session,
    campaign: Campaign,
    actor: Actor,
    to_status: str,
    *,
    comment: str | None = None,
    level: int | None = None,
) -> None:
    now = utcnow()
    session.add(
        CampaignTransition(
            campaign_id=campaign.id,
            at=now,
            user_id=actor.user_id,
            from_status=campaign.status if campaign.id is not None else None,
            to_status=to_status,
            level=level,
            comment=comment,
        )
    )
    campaign.status = to_status
    campaign.updated_at = now
    session.flush()


def _expect(campaign: Campaign, allowed: Iterable[str], doing: str) -> None:
    allowed = tuple(allowed)
    if campaign.status not in allowed:
        raise ConflictError(
            f"cannot {doing} a {campaign.status} campaign (only {' / '.join(allowed)})"
        )


# ----------------------------------------------------------------------------- plans


def _check_branch(session: Session, actor: Actor, branch_id: int) -> None:
    if session.get(Branch, branch_id) is None:
        raise InvalidRequestError(f"no branch {branch_id}", field="branch_id")
    if not _sees_branch(actor, branch_id):
        raise PermissionDeniedError("you may not plan for a branch outside your scope")


def _check_policies(session: Session, policy_ids: Sequence[str]) -> None:
    known = set(
        session.scalars(
            select(PublishedPolicy.policy_id).where(PublishedPolicy.policy_id.in_(policy_ids))
        )
    )
    missing = [p for p in policy_ids if p not in known]
    if missing:
        raise InvalidRequestError(
            f"unknown policies {', '.join(missing)} (not in the published policy library)",
            field="policy_ids",
        )


def _check_filter(raw: Any, field: str = "target_filter") -> None:
    try:
        targeting.parse_filter(raw)
    except FilterError as exc:
        raise _filter_problem(exc, field) from exc


def create_campaign(session: Session, actor: Actor, data: CampaignCreate) -> Campaign:
    """A new draft plan (planners; a centre head for the branches they see)."""
    actor.require(*PLANNERS)
    _check_branch(session, actor, data.branch_id)
    _check_filter(data.target_filter)
    _check_policies(session, data.policy_ids)
    now = utcnow()
    campaign = Campaign(
        name=data.name,
        description=data.description or "",
        branch_id=data.branch_id,
        status=DRAFT,
        target_filter=_dump(data.target_filter),
        policy_ids=_dump(data.policy_ids),
        channels=_dump(data.channels),
        script_zh=data.script_zh or "",
        script_en=data.script_en or "",
        start_date=data.start_date,
        end_date=data.end_date,
        holdout_share=data.holdout_share,
        questionnaire_id=data.questionnaire_id,
        created_by=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(campaign)
    session.flush()
    session.add(
        CampaignTransition(campaign_id=campaign.id, at=now, user_id=actor.user_id, to_status=DRAFT)
    )
    session.flush()
    return campaign


_PLAIN = ("name", "description", "script_zh", "script_en", "questionnaire_id")
_JSON = ("target_filter", "policy_ids", "channels")


def update_campaign(
    session: Session, actor: Actor, campaign_id: int, data: CampaignUpdate
) -> Campaign:
    """Change a plan; a rehearsed, submitted or rejected plan goes back to draft."""
    campaign = get_campaign(session, actor, campaign_id, for_update=True)
    _require(actor, PLANNERS, campaign.branch_id)
    _expect(campaign, EDITABLE, "edit")
    given = data.model_fields_set
    for name in ("name", "branch_id", "target_filter", "policy_ids", "channels"):
        if name in given and getattr(data, name) is None:
            raise InvalidRequestError("may not be null", field=name)
    if "holdout_share" in given and data.holdout_share is None:
        raise InvalidRequestError("may not be null", field="holdout_share")
    if "branch_id" in given and data.branch_id is not None:
        _check_branch(session, actor, data.branch_id)
        campaign.branch_id = data.branch_id
    if "target_filter" in given:
        _check_filter(data.target_filter)
    if "policy_ids" in given and data.policy_ids is not None:
        _check_policies(session, data.policy_ids)
    start = data.start_date if "start_date" in given else campaign.start_date
    end = data.end_date if "end_date" in given else campaign.end_date
    if start and end and end < start:
        raise InvalidRequestError("end_date is before start_date", field="end_date")
    for name in _PLAIN:
        if name in given:
            value = getattr(data, name)
            setattr(campaign, name, "" if value is None and name != "questionnaire_id" else value)
    for name in _JSON:
        if name in given:
            setattr(campaign, name, _dump(getattr(data, name)))
    if "holdout_share" in given and data.holdout_share is not None:
        campaign.holdout_share = data.holdout_share
    campaign.start_date, campaign.end_date = start, end
    campaign.rehearsal = None
    campaign.approval_level = None
    campaign.approval_chain = None
    if campaign.status != DRAFT:
        _transition(session, campaign, actor, DRAFT, comment="edited")
    else:
        campaign.updated_at = utcnow()
        session.flush()
    return campaign


def clone_campaign(session: Session, actor: Actor, campaign_id: int) -> Campaign:
    """A new draft copying a plan's targets, policies, channels, script, hold-out share and
    questionnaire; the schedule is left empty (a new one is needed before rehearsal)."""
    source = get_campaign(session, actor, campaign_id)
    _require(actor, PLANNERS, source.branch_id)
    suffix = " (copy)"
    now = utcnow()
    campaign = Campaign(
        name=source.name[: 200 - len(suffix)] + suffix,
        description=source.description,
        branch_id=source.branch_id,
        status=DRAFT,
        target_filter=source.target_filter,
        policy_ids=source.policy_ids,
        channels=source.channels,
        script_zh=source.script_zh,
        script_en=source.script_en,
        holdout_share=source.holdout_share,
        questionnaire_id=source.questionnaire_id,
        cloned_from=source.id,
        created_by=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(campaign)
    session.flush()
    session.add(
        CampaignTransition(
            campaign_id=campaign.id,
            at=now,
            user_id=actor.user_id,
            to_status=DRAFT,
            comment=f"cloned from campaign {source.id}",
        )
    )
    session.flush()
    return campaign


# ----------------------------------------------------------------------------- targets


def _target_clause(session: Session, campaign: Campaign) -> ColumnElement[bool]:
    try:
        matches = targeting.compile_filter(loads(campaign.target_filter))
    except FilterError as exc:
        raise _filter_problem(exc, "target_filter") from exc
    branches = descendant_branch_ids(session, campaign.branch_id)
    return and_(matches, CustomerView.branch_id.in_(branches))


def _busy_clause(campaign_id: int) -> ColumnElement[bool]:
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
        raise _filter_problem(exc, "filter") from exc
    statement = (
        select(func.count()).select_from(CustomerView).where(matches, customer_scope_clause(actor))
    )
    if branch_id is not None:
        _check_branch(session, actor, branch_id)
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


def _policies(session: Session, campaign: Campaign) -> list[PublishedPolicy]:
    ids: list[str] = loads(campaign.policy_ids)
    _check_policies(session, ids)
    found = {
        p.policy_id: p
        for p in session.scalars(select(PublishedPolicy).where(PublishedPolicy.policy_id.in_(ids)))
    }
    return [found[i] for i in ids]


def _schedule(campaign: Campaign) -> tuple[date, date]:
    if campaign.start_date is None:
        raise InvalidRequestError("the plan needs a schedule start", field="start_date")
    if campaign.end_date is None:
        raise InvalidRequestError("the plan needs a schedule end", field="end_date")
    return campaign.start_date, campaign.end_date


def take_rate(channels: Sequence[str]) -> float:
    """The chance a treated member takes an offer through any of ``channels``:
    1 − Π(1 − take rate of each channel)."""
    miss = 1.0
    for channel in channels:
        miss *= 1.0 - TAKE_RATES.get(channel, 0.0)
    return 1.0 - miss


def rehearse(session: Session, actor: Actor, campaign_id: int, tz: ZoneInfo) -> Campaign:
    """Run the plan on a sample (方案预演) and store the result; draft → rehearsed."""
    campaign = get_campaign(session, actor, campaign_id, for_update=True)
    _require(actor, PLANNERS, campaign.branch_id)
    _expect(campaign, REHEARSABLE, "rehearse")
    start, end = _schedule(campaign)
    policies = _policies(session, campaign)
    channels: list[str] = loads(campaign.channels)
    where = _target_clause(session, campaign)
    count = int(session.scalar(select(func.count()).select_from(CustomerView).where(where)) or 0)
    overlap = int(
        session.scalar(
            select(func.count()).select_from(CustomerView).where(where, _busy_clause(campaign.id))
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
    warnings: list[str] = []
    for name in channels:
        capacities = {day: rules.capacity(name, day) for day in days}
        working = [day for day in days if capacities[day] != 0]
        per_day = treated_est / len(working) if working else treated_est
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
            warnings.append(f"{name}: planned load exceeds capacity on {over} day(s)")
    for policy in policies:
        if policy.valid_from > start or policy.valid_to < end:
            warnings.append(
                f"policy {policy.policy_id} is valid {policy.valid_from} – {policy.valid_to}, "
                f"not over the whole schedule"
            )
        offered = set(policy.channels.split())
        missing = [c for c in channels if c not in offered]
        if missing:
            warnings.append(f"policy {policy.policy_id} is not offered on {', '.join(missing)}")
    if overlap:
        warnings.append(f"{overlap} target(s) are already in a running campaign")
    if count == 0:
        warnings.append("the filter matches no customer")

    campaign.rehearsal = _dump(
        {
            "at": utcnow().isoformat(),
            "target_count": count,
            "sample_size": len(sample),
            "scale": round(scale, 6),
            "treated": round(treated_est),
            "holdout": count - round(treated_est),
            "overlap_running": overlap,
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
            "warnings": warnings,
        }
    )
    _transition(session, campaign, actor, REHEARSED, comment=f"{count} targets")
    return campaign


# ----------------------------------------------------------------------------- approval


def resolve_chain(session: Session, branch_id: int | None) -> tuple[list[Role], str, int | None]:
    """The approval chain of ``branch_id``: its own, else the nearest parent's, else the
    configured default (``branch_id`` NULL), else :data:`DEFAULT_CHAIN`. Returns the roles
    (level 1 first), where they come from and the branch they are configured for."""
    candidates: list[tuple[int | None, str]] = []
    if branch_id is not None:
        candidates.append((branch_id, "branch"))
        candidates.extend((b, "parent") for b in _ancestors(session, branch_id))
    candidates.append((None, "default"))
    for candidate, source in candidates:
        condition = (
            ApprovalStep.branch_id.is_(None)
            if candidate is None
            else ApprovalStep.branch_id == candidate
        )
        roles = session.scalars(
            select(ApprovalStep.role).where(condition).order_by(ApprovalStep.level)
        ).all()
        if roles:
            return [Role(r) for r in roles], source, candidate
    return list(DEFAULT_CHAIN), "built_in", None


def set_chain(session: Session, actor: Actor, branch_id: int | None, roles: Sequence[Role]) -> None:
    """Replace ``branch_id``'s chain (NULL: the default) by ``roles``, level 1 first; an empty
    list removes it. Admin only; audited."""
    actor.require(Role.ADMIN)
    actor.require_configure()
    if branch_id is not None and session.get(Branch, branch_id) is None:
        raise InvalidRequestError(f"no branch {branch_id}", field="branch_id")
    for i, role in enumerate(roles):
        if not permissions(role).may_approve:
            raise InvalidRequestError(
                f"role {role.value} may not approve campaigns", field=f"roles[{i}]"
            )
    condition = (
        ApprovalStep.branch_id.is_(None)
        if branch_id is None
        else ApprovalStep.branch_id == branch_id
    )
    for step in session.scalars(select(ApprovalStep).where(condition)):
        session.delete(step)
    session.flush()
    session.add_all(
        ApprovalStep(branch_id=branch_id, level=i + 1, role=role.value)
        for i, role in enumerate(roles)
    )
    audit(
        session,
        actor.user_id,
        AuditAction.CONFIG_CHANGE,
        "approval_chain",
        "default" if branch_id is None else str(branch_id),
        {"roles": [r.value for r in roles]},
    )


def submit(session: Session, actor: Actor, campaign_id: int, tz: ZoneInfo) -> Campaign:
    """Send a rehearsed plan for approval at level 1 of its branch's chain."""
    campaign = get_campaign(session, actor, campaign_id, for_update=True)
    _require(actor, SUBMITTERS, campaign.branch_id)
    _expect(campaign, (REHEARSED,), "submit")
    _, end = _schedule(campaign)
    if end < _today(tz):
        raise InvalidRequestError("the schedule has already ended", field="end_date")
    _policies(session, campaign)
    roles, _, _ = resolve_chain(session, campaign.branch_id)
    campaign.approval_chain = _dump([r.value for r in roles])
    campaign.approval_level = 1
    _transition(session, campaign, actor, SUBMITTED)
    return campaign


def _check_approver(campaign: Campaign, actor: Actor) -> tuple[int, list[str]]:
    chain: list[str] = loads(campaign.approval_chain) or [r.value for r in DEFAULT_CHAIN]
    level = campaign.approval_level or 1
    role = chain[min(level, len(chain)) - 1]
    if actor.user_id == campaign.created_by:
        raise PermissionDeniedError("the creator of a plan may not approve or reject it")
    if actor.role.value != role:
        raise PermissionDeniedError(f"level {level} of this plan is decided by a {role}")
    actor.require_approve()
    if not _sees_branch(actor, campaign.branch_id):
        raise PermissionDeniedError("this plan belongs to a branch outside your scope")
    return level, chain


def approve(
    session: Session, actor: Actor, campaign_id: int, comment: str | None = None
) -> Campaign:
    """Approve the current level; the last level makes the plan approved. Audited."""
    actor.require_approve()
    campaign = get_campaign(session, actor, campaign_id, for_update=True)
    _expect(campaign, (SUBMITTED,), "approve")
    level, chain = _check_approver(campaign, actor)
    last = level >= len(chain)
    if last:
        campaign.approval_level = None
        _transition(session, campaign, actor, APPROVED, comment=comment, level=level)
    else:
        campaign.approval_level = level + 1
        _transition(session, campaign, actor, SUBMITTED, comment=comment, level=level)
    audit(
        session,
        actor.user_id,
        AuditAction.APPROVAL,
        "campaign",
        str(campaign.id),
        {"decision": "approved", "level": level, "of": len(chain), "comment": comment},
    )
    return campaign


def reject(session: Session, actor: Actor, campaign_id: int, comment: str | None) -> Campaign:
    """Reject the plan at the current level (a comment is required). Audited."""
    actor.require_approve()
    campaign = get_campaign(session, actor, campaign_id, for_update=True)
    _expect(campaign, (SUBMITTED,), "reject")
    level, chain = _check_approver(campaign, actor)
    if not comment or not comment.strip():
        raise InvalidRequestError("say why the plan is rejected", field="comment")
    campaign.approval_level = None
    _transition(session, campaign, actor, REJECTED, comment=comment, level=level)
    audit(
        session,
        actor.user_id,
        AuditAction.APPROVAL,
        "campaign",
        str(campaign.id),
        {"decision": "rejected", "level": level, "of": len(chain), "comment": comment},
    )
    return campaign


# ----------------------------------------------------------------------------- execution


def _member_policy(policy_ids: Sequence[str], eligible: str | None) -> str:
    allowed = set(eligible.split()) if eligible else set()
    return next((p for p in policy_ids if p in allowed), policy_ids[0])


def start(session: Session, actor: Actor, campaign_id: int, tz: ZoneInfo) -> Campaign:
    """approved → running, on or after the schedule start: materialise the members (treated /
    hold-out by hash), skip customers already in another running campaign, and create tasks
    for the treated members in the staffed channels (due at the schedule end)."""
    campaign = get_campaign(session, actor, campaign_id, for_update=True)
    _require(actor, RUNNERS, campaign.branch_id)
    _expect(campaign, (APPROVED,), "start")
    first, last = _schedule(campaign)
    today = _today(tz)
    if today < first:
        raise ConflictError(f"the campaign is scheduled to start on {first.isoformat()}")
    if today > last:
        raise ConflictError(f"the campaign's schedule ended on {last.isoformat()}")
    policy_ids: list[str] = loads(campaign.policy_ids)
    staffed = [c for c in loads(campaign.channels) if c in STAFFED_CHANNELS]
    due = datetime.combine(last, time(23, 59), tzinfo=tz)
    where = _target_clause(session, campaign)
    skipped = int(
        session.scalar(
            select(func.count()).select_from(CustomerView).where(where, _busy_clause(campaign.id))
        )
        or 0
    )
    counts = {TREATED: 0, HOLDOUT: 0}
    tasks = 0
    after = ""
    while True:
        rows = session.execute(
            select(
                CustomerView.subscriber_id,
                CustomerView.branch_id,
                CustomerView.churn_probability,
                CustomerView.future_value,
                CustomerView.arpu_1m,
                CustomerView.eligible_policies,
            )
            .where(where, ~_busy_clause(campaign.id), CustomerView.subscriber_id > after)
            .order_by(CustomerView.subscriber_id)
            .limit(PAGE)
        ).all()
        if not rows:
            break
        after = rows[-1].subscriber_id
        members: list[dict[str, Any]] = []
        specs: list[TaskSpec] = []
        for sid, branch, probability, value, arpu, eligible in rows:
            arm = HOLDOUT if in_holdout(campaign.id, sid, campaign.holdout_share) else TREATED
            counts[arm] += 1
            members.append(
                {
                    "campaign_id": campaign.id,
                    "subscriber_id": sid,
                    "arm": arm,
                    "branch_id": branch,
                    "churn_probability": probability,
                    "future_value": value,
                    "arpu_1m": arpu,
                }
            )
            if arm == TREATED:
                policy = _member_policy(policy_ids, eligible)
                specs.extend(
                    TaskSpec(
                        subscriber_id=sid,
                        source="campaign",
                        origin=f"campaign:{campaign.id}",
                        channel=channel,
                        campaign_id=campaign.id,
                        policy_id=policy,
                        priority=(probability or 0.0) * (value or 0.0),
                        due_at=due,
                        title_zh=f"维挽活动：{campaign.name}"[:200],
                        title_en=f"Campaign: {campaign.name}"[:200],
                    )
                    for channel in staffed
                )
        session.execute(insert(CampaignMember), members)
        tasks += create_tasks(session, specs)
    now = utcnow()
    campaign.started_at = now
    campaign.start_summary = _dump(
        {
            "at": now.isoformat(),
            "members": counts[TREATED] + counts[HOLDOUT],
            "treated": counts[TREATED],
            "holdout": counts[HOLDOUT],
            "skipped_running": skipped,
            "tasks_created": tasks,
            "task_channels": staffed,
        }
    )
    _transition(
        session,
        campaign,
        actor,
        RUNNING,
        comment=f"{counts[TREATED]} treated, {counts[HOLDOUT]} hold-out, {skipped} skipped",
    )
    return campaign


def treated_members(session: Session, campaign_id: int) -> list[str]:
    """Subscriber ids of the campaign's treated arm (for the SMS domain's campaign sends)."""
    return list(
        session.scalars(
            select(CampaignMember.subscriber_id)
            .where(CampaignMember.campaign_id == campaign_id, CampaignMember.arm == TREATED)
            .order_by(CampaignMember.subscriber_id)
        )
    )


def complete(session: Session, actor: Actor, campaign_id: int) -> Campaign:
    """running → completed; the campaign's open tasks expire."""
    campaign = get_campaign(session, actor, campaign_id, for_update=True)
    _require(actor, RUNNERS, campaign.branch_id)
    _expect(campaign, (RUNNING,), "complete")
    now = utcnow()
    result = session.execute(
        update(Task)
        .where(Task.campaign_id == campaign.id, Task.status == OPEN_TASK)
        .values(status=EXPIRED_TASK, closed_at=now, closed_reason="campaign completed")
        .execution_options(synchronize_session=False)
    )
    expired = int(result.rowcount or 0)  # type: ignore[attr-defined]
    campaign.completed_at = now
    _transition(session, campaign, actor, COMPLETED, comment=f"{expired} open task(s) expired")
    return campaign


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def evaluation_figures(session: Session, campaign_id: int) -> dict[str, Any]:
    """The campaign's effect against its hold-out (see docs/campaigns.md for the formulas).

    A member is retained when the latest published customer view still holds them with status
    ``active``; a member missing from it has left (the view holds active subscribers only).
    """
    retained = and_(
        CustomerView.subscriber_id == CampaignMember.subscriber_id,
        CustomerView.status == ACTIVE,
    )
    arms: dict[str, dict[str, Any]] = {}
    for arm in (TREATED, HOLDOUT):
        size, kept, mean_value = session.execute(
            select(
                func.count(),
                func.count(CustomerView.subscriber_id),
                func.avg(CampaignMember.future_value),
            )
            .select_from(CampaignMember)
            .outerjoin(CustomerView, retained)
            .where(CampaignMember.campaign_id == campaign_id, CampaignMember.arm == arm)
        ).one()
        contacted = session.scalar(
            select(func.count(func.distinct(Contact.subscriber_id))).where(
                Contact.campaign_id == campaign_id,
                Contact.status == "sent",
                Contact.subscriber_id.in_(
                    select(CampaignMember.subscriber_id).where(
                        CampaignMember.campaign_id == campaign_id, CampaignMember.arm == arm
                    )
                ),
            )
        )
        accepted = session.scalar(
            select(func.count(func.distinct(Acceptance.subscriber_id))).where(
                Acceptance.campaign_id == campaign_id,
                Acceptance.status == "active",
                Acceptance.subscriber_id.in_(
                    select(CampaignMember.subscriber_id).where(
                        CampaignMember.campaign_id == campaign_id, CampaignMember.arm == arm
                    )
                ),
            )
        )
        arms[arm] = {
            "members": int(size),
            "retained": int(kept),
            "retention_rate": _ratio(kept, size),
            "mean_future_value_at_start": None if mean_value is None else float(mean_value),
            "contacted": int(contacted or 0),
            "accepted": int(accepted or 0),
        }
    treated, holdout = arms[TREATED], arms[HOLDOUT]
    cost = float(
        session.scalar(
            select(func.coalesce(func.sum(Acceptance.cost), 0.0)).where(
                Acceptance.campaign_id == campaign_id, Acceptance.status == "active"
            )
        )
        or 0.0
    )
    rate_t, rate_h = treated["retention_rate"], holdout["retention_rate"]
    saves = None if rate_t is None or rate_h is None else (rate_t - rate_h) * treated["members"]
    mean_value = treated["mean_future_value_at_start"]
    value_saved = None if saves is None or mean_value is None else saves * mean_value
    snapshot = session.scalar(select(func.max(CustomerView.snapshot_date)))
    return {
        "snapshot_date": None if snapshot is None else snapshot.isoformat(),
        "arms": arms,
        "retention_uplift": None if saves is None else rate_t - rate_h,
        "incremental_saves": saves,
        "cost": cost,
        "value_saved": value_saved,
        "roi": None if value_saved is None or not cost else (value_saved - cost) / cost,
        "marketing_success_rate": _ratio(treated["accepted"], treated["contacted"]),
        "participation_rate": _ratio(treated["contacted"], treated["members"]),
        "holdout_contacted": holdout["contacted"],
    }


def evaluate(session: Session, actor: Actor, campaign_id: int) -> Campaign:
    """completed → evaluated (again: refresh the figures with the latest published data)."""
    campaign = get_campaign(session, actor, campaign_id, for_update=True)
    _require(actor, RUNNERS, campaign.branch_id)
    _expect(campaign, (COMPLETED, EVALUATED), "evaluate")
    figures = evaluation_figures(session, campaign.id)
    now = utcnow()
    figures["at"] = now.isoformat()
    campaign.evaluation = _dump(figures)
    campaign.evaluated_at = now
    _transition(session, campaign, actor, EVALUATED)
    return campaign


def library(session: Session, actor: Actor) -> Sequence[Campaign]:
    """The plan library (方案库): completed and evaluated plans in scope, newest first."""
    return session.scalars(
        select(Campaign)
        .where(visible_clause(session, actor), Campaign.status.in_(LIBRARY))
        .order_by(Campaign.completed_at.desc(), Campaign.id.desc())
    ).all()


def members_summary(session: Session, actor: Actor, campaign_id: int) -> dict[str, Any]:
    """Members per arm, contacts and acceptances of the treated, tasks by status."""
    campaign = get_campaign(session, actor, campaign_id)
    arms = dict(
        session.execute(
            select(CampaignMember.arm, func.count())
            .where(CampaignMember.campaign_id == campaign.id)
            .group_by(CampaignMember.arm)
        ).all()
    )
    figures = evaluation_figures(session, campaign.id)["arms"]
    tasks = dict(
        session.execute(
            select(Task.status, func.count())
            .where(Task.campaign_id == campaign.id)
            .group_by(Task.status)
        ).all()
    )
    summary = loads(campaign.start_summary) or {}
    return {
        "campaign_id": campaign.id,
        "treated": int(arms.get(TREATED, 0)),
        "holdout": int(arms.get(HOLDOUT, 0)),
        "skipped_running": int(summary.get("skipped_running", 0)),
        "contacted_treated": figures[TREATED]["contacted"],
        "contacted_holdout": figures[HOLDOUT]["contacted"],
        "accepted_treated": figures[TREATED]["accepted"],
        "tasks": {str(k): int(v) for k, v in tasks.items()},
    }
