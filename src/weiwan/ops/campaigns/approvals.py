"""Approval chains (configured per branch by the admin) and the approval flow: submit, then
approve or reject level by level."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.core.errors import InvalidRequestError, PermissionDeniedError, localisable
from weiwan.ops.campaigns.models import (
    APPROVED,
    REHEARSED,
    REJECTED,
    SUBMITTED,
    ApprovalStep,
    Campaign,
)
from weiwan.ops.campaigns.service import (
    DEFAULT_CHAIN,
    SUBMITTERS,
    ancestor_branch_ids,
    dump,
    expect,
    get_campaign,
    loads,
    plan_policies,
    require,
    schedule,
    sees_branch,
    transition,
)
from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import Branch
from weiwan.ops.org.roles import Role, permissions
from weiwan.ops.org.service import AuditAction, audit
from weiwan.ops.tasks.due import local_today

# ----------------------------------------------------------------------------- chains


def resolve_chain(session: Session, branch_id: int | None) -> tuple[list[Role], str, int | None]:
    """The approval chain of ``branch_id``: its own, else the nearest parent's, else the
    configured default (``branch_id`` NULL), else :data:`DEFAULT_CHAIN`. Returns the roles
    (level 1 first), where they come from and the branch they are configured for."""
    candidates: list[tuple[int | None, str]] = []
    if branch_id is not None:
        candidates.append((branch_id, "branch"))
        candidates.extend((b, "parent") for b in ancestor_branch_ids(session, branch_id))
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


# ----------------------------------------------------------------------------- approval


def submit(session: Session, actor: Actor, campaign_id: int, tz: ZoneInfo) -> Campaign:
    """Send a rehearsed plan for approval at level 1 of its branch's chain."""
    campaign = get_campaign(session, actor, campaign_id, for_update=True)
    require(actor, SUBMITTERS, campaign.branch_id)
    expect(campaign, (REHEARSED,), "submit")
    _, end = schedule(campaign)
    if end < local_today(tz):
        raise InvalidRequestError("the schedule has already ended", field="end_date")
    plan_policies(session, campaign)
    roles, _, _ = resolve_chain(session, campaign.branch_id)
    campaign.approval_chain = dump([r.value for r in roles])
    campaign.approval_level = 1
    transition(session, campaign, actor, SUBMITTED)
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
    if not sees_branch(actor, campaign.branch_id):
        raise PermissionDeniedError("this plan belongs to a branch outside your scope")
    return level, chain


def approve(
    session: Session, actor: Actor, campaign_id: int, comment: str | None = None
) -> Campaign:
    """Approve the current level; the last level makes the plan approved. Audited."""
    actor.require_approve()
    campaign = get_campaign(session, actor, campaign_id, for_update=True)
    expect(campaign, (SUBMITTED,), "approve")
    level, chain = _check_approver(campaign, actor)
    last = level >= len(chain)
    if last:
        campaign.approval_level = None
        transition(session, campaign, actor, APPROVED, comment=comment, level=level)
    else:
        campaign.approval_level = level + 1
        transition(session, campaign, actor, SUBMITTED, comment=comment, level=level)
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
    expect(campaign, (SUBMITTED,), "reject")
    level, chain = _check_approver(campaign, actor)
    if not comment or not comment.strip():
        raise localisable(
            InvalidRequestError("say why the plan is rejected", field="comment"),
            "Write in the comment why the plan is rejected.",
        )
    campaign.approval_level = None
    transition(session, campaign, actor, REJECTED, comment=comment, level=level)
    audit(
        session,
        actor.user_id,
        AuditAction.APPROVAL,
        "campaign",
        str(campaign.id),
        {"decision": "rejected", "level": level, "of": len(chain), "comment": comment},
    )
    return campaign
