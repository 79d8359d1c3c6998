"""Campaign plans: who may read them, create / edit / clone, and the helpers every stage
shares (access checks, state transitions, a plan's schedule and policies). States and who may
do what: the package doc (:mod:`weiwan.ops.campaigns`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, select, true
from sqlalchemy.orm import Session

from weiwan.core.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    localisable,
)
from weiwan.core.filters import FilterError
from weiwan.ops.base import utcnow
from weiwan.ops.campaigns import targeting
from weiwan.ops.campaigns.models import (
    COMPLETED,
    DRAFT,
    EVALUATED,
    REHEARSED,
    REJECTED,
    RUNNING,
    SUBMITTED,
    Campaign,
    CampaignTransition,
)
from weiwan.ops.campaigns.schemas import CampaignCreate, CampaignUpdate
from weiwan.ops.guard import transition as conditional_update
from weiwan.ops.offers.models import PublishedPolicy
from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import Branch
from weiwan.ops.org.roles import Role, Scope

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

# ----------------------------------------------------------------------------- helpers


def dump(value: Any) -> str:
    """``value`` as the JSON stored in a campaign's JSON columns (keys sorted)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def loads(text: str | None) -> Any:
    """A JSON column's value (``None`` stays ``None``)."""
    return None if text is None else json.loads(text)


def ancestor_branch_ids(session: Session, branch_id: int) -> list[int]:
    """The ids of ``branch_id``'s parent branches, nearest first."""
    parents = dict(session.execute(select(Branch.id, Branch.parent_id)).all())
    found: list[int] = []
    current = parents.get(branch_id)
    while current is not None and current not in found:
        found.append(current)
        current = parents.get(current)
    return found


def sees_branch(actor: Actor, branch_id: int) -> bool:
    """The actor's scope covers ``branch_id``."""
    return actor.scope is Scope.ALL or branch_id in actor.branch_ids


def require(actor: Actor, roles: Sequence[Role], branch_id: int) -> None:
    """The actor has one of ``roles`` and (for branch roles) sees ``branch_id``."""
    actor.require(*roles)
    if not sees_branch(actor, branch_id):
        raise PermissionDeniedError("this plan belongs to a branch outside your scope")


def filter_problem(exc: FilterError, field: str) -> InvalidRequestError:
    """A 422 naming where in ``field`` the target filter is wrong."""
    path = exc.path if exc.path and exc.path != "(filter)" else ""
    where = f"{field}.{path}" if path else field
    problem = InvalidRequestError(exc.reason if exc.path else str(exc), field=where)
    problem.message_id, problem.message_variables = exc.message_id, exc.message_variables
    return problem


def visible_clause(session: Session, actor: Actor) -> ColumnElement[bool]:
    """Campaigns the actor may read (see the package doc)."""
    if actor.role in READ_ALL:
        return true()
    if actor.role is Role.CENTRE_HEAD:
        return Campaign.branch_id.in_(actor.branch_ids)
    if actor.role in READ_RUNNING:
        branches = {actor.branch_id, *ancestor_branch_ids(session, actor.branch_id)}
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


def transition(
    session: Session,
    campaign: Campaign,
    actor: Actor,
    to_status: str,
    *,
    comment: str | None = None,
    level: int | None = None,
    note: dict[str, Any] | None = None,
) -> None:
    """Move ``campaign`` to ``to_status`` and record the transition (``comment``: a person's
    words; ``note``: the system's, as data with a ``kind``). A stored campaign moves
    by conditional update on the status it was read with (``FOR UPDATE`` is a no-op on
    SQLite): a :class:`ConflictError` when another request moved it first."""
    now = utcnow()
    before = campaign.status if campaign.id is not None else None
    if campaign.id is not None and not conditional_update(
        session, Campaign, campaign.id, {"status": before}, {"status": to_status}
    ):
        raise ConflictError(f"campaign {campaign.id} is no longer {before}; reload it")
    session.add(
        CampaignTransition(
            campaign_id=campaign.id,
            at=now,
            user_id=actor.user_id,
            from_status=before,
            to_status=to_status,
            level=level,
            comment=comment,
            note=json.dumps(note, sort_keys=True) if note else None,
        )
    )
    campaign.status = to_status
    campaign.updated_at = now
    session.flush()


def expect(campaign: Campaign, allowed: Iterable[str], doing: str) -> None:
    """409 unless the campaign's status is one of ``allowed``."""
    allowed = tuple(allowed)
    if campaign.status not in allowed:
        raise localisable(
            ConflictError(
                f"cannot {doing} a {campaign.status} campaign (only {' / '.join(allowed)})"
            ),
            "Not possible while the campaign is in this state; reload the page.",
        )


# ----------------------------------------------------------------------------- plans


def check_branch(session: Session, actor: Actor, branch_id: int) -> None:
    """The branch exists (422 otherwise) and the actor may plan for it (403 otherwise)."""
    if session.get(Branch, branch_id) is None:
        raise InvalidRequestError(f"no branch {branch_id}", field="branch_id")
    if not sees_branch(actor, branch_id):
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
        raise filter_problem(exc, field) from exc


def create_campaign(session: Session, actor: Actor, data: CampaignCreate) -> Campaign:
    """A new draft plan (planners; a centre head for the branches they see)."""
    actor.require(*PLANNERS)
    check_branch(session, actor, data.branch_id)
    _check_filter(data.target_filter)
    _check_policies(session, data.policy_ids)
    now = utcnow()
    campaign = Campaign(
        name=data.name,
        description=data.description or "",
        branch_id=data.branch_id,
        status=DRAFT,
        target_filter=dump(data.target_filter),
        policy_ids=dump(data.policy_ids),
        channels=dump(data.channels),
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
    require(actor, PLANNERS, campaign.branch_id)
    expect(campaign, EDITABLE, "edit")
    given = data.model_fields_set
    for name in ("name", "branch_id", "target_filter", "policy_ids", "channels"):
        if name in given and getattr(data, name) is None:
            raise InvalidRequestError("may not be null", field=name)
    if "holdout_share" in given and data.holdout_share is None:
        raise InvalidRequestError("may not be null", field="holdout_share")
    if "branch_id" in given and data.branch_id is not None:
        check_branch(session, actor, data.branch_id)
        campaign.branch_id = data.branch_id
    if "target_filter" in given:
        _check_filter(data.target_filter)
    if "policy_ids" in given and data.policy_ids is not None:
        _check_policies(session, data.policy_ids)
    start = data.start_date if "start_date" in given else campaign.start_date
    end = data.end_date if "end_date" in given else campaign.end_date
    if start and end and end < start:
        raise localisable(
            InvalidRequestError("end_date is before start_date", field="end_date"),
            "The end date is before the start date.",
        )
    for name in _PLAIN:
        if name in given:
            value = getattr(data, name)
            setattr(campaign, name, "" if value is None and name != "questionnaire_id" else value)
    for name in _JSON:
        if name in given:
            setattr(campaign, name, dump(getattr(data, name)))
    if "holdout_share" in given and data.holdout_share is not None:
        campaign.holdout_share = data.holdout_share
    campaign.start_date, campaign.end_date = start, end
    campaign.rehearsal = None
    campaign.approval_level = None
    campaign.approval_chain = None
    if campaign.status != DRAFT:
        transition(session, campaign, actor, DRAFT, note={"kind": "edited"})
    else:
        campaign.updated_at = utcnow()
        session.flush()
    return campaign


def clone_campaign(session: Session, actor: Actor, campaign_id: int) -> Campaign:
    """A new draft copying a plan's targets, policies, channels, script, hold-out share and
    questionnaire; the schedule is left empty (a new one is needed before rehearsal)."""
    source = get_campaign(session, actor, campaign_id)
    require(actor, PLANNERS, source.branch_id)
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
            note=json.dumps({"kind": "cloned", "source": source.id}),
        )
    )
    session.flush()
    return campaign


def plan_policies(session: Session, campaign: Campaign) -> list[PublishedPolicy]:
    """The plan's published policies in the plan's order (422 if one is unknown)."""
    ids: list[str] = loads(campaign.policy_ids)
    _check_policies(session, ids)
    found = {
        p.policy_id: p
        for p in session.scalars(select(PublishedPolicy).where(PublishedPolicy.policy_id.in_(ids)))
    }
    return [found[i] for i in ids]


def schedule(campaign: Campaign) -> tuple[date, date]:
    """The plan's first and last day (422 if either is missing)."""
    if campaign.start_date is None:
        raise localisable(
            InvalidRequestError("the plan needs a schedule start", field="start_date"),
            "Give the plan a start date first (edit the plan).",
        )
    if campaign.end_date is None:
        raise localisable(
            InvalidRequestError("the plan needs a schedule end", field="end_date"),
            "Give the plan an end date first (edit the plan).",
        )
    return campaign.start_date, campaign.end_date
