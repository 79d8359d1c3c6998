"""Routes under /campaigns: plans, rehearsal, approval, execution, evaluation, plan library,
approval-chain configuration and the live target count. Roles and scope: the package doc."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from weiwan.ops.campaigns import approvals, evaluation, execution, rehearsal, service
from weiwan.ops.campaigns.models import STATUSES, Campaign
from weiwan.ops.campaigns.schemas import (
    ApprovalChainIn,
    ApprovalChainOut,
    CampaignCreate,
    CampaignDetail,
    CampaignOut,
    CampaignUpdate,
    CommentIn,
    MembersSummary,
    PreviewIn,
    PreviewOut,
    TransitionOut,
)
from weiwan.ops.deps import CurrentActor, Db, LocalTz
from weiwan.ops.org.roles import Role
from weiwan.ops.types import MAX_ID, IdPath

router = APIRouter(prefix="/campaigns", tags=["campaigns"])
Status = Literal[STATUSES]  # type: ignore[valid-type]


def campaign_out(campaign: Campaign) -> CampaignOut:
    """The API form of a campaign (JSON columns decoded)."""
    return CampaignOut(
        id=campaign.id,
        name=campaign.name,
        description=campaign.description,
        branch_id=campaign.branch_id,
        status=campaign.status,
        target_filter=service.loads(campaign.target_filter),
        policy_ids=service.loads(campaign.policy_ids),
        channels=service.loads(campaign.channels),
        script_zh=campaign.script_zh,
        script_en=campaign.script_en,
        start_date=campaign.start_date,
        end_date=campaign.end_date,
        holdout_share=campaign.holdout_share,
        questionnaire_id=campaign.questionnaire_id,
        cloned_from=campaign.cloned_from,
        created_by=campaign.created_by,
        created_at=campaign.created_at,
        updated_at=campaign.updated_at,
        approval_level=campaign.approval_level,
        approval_chain=service.loads(campaign.approval_chain),
        rehearsal=service.loads(campaign.rehearsal),
        start_summary=service.loads(campaign.start_summary),
        evaluation=service.loads(campaign.evaluation),
        started_at=campaign.started_at,
        completed_at=campaign.completed_at,
        evaluated_at=campaign.evaluated_at,
    )


@router.get("", response_model=list[CampaignOut])
def campaigns(
    actor: CurrentActor,
    db: Db,
    status: Annotated[Status | None, Query()] = None,
    branch_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[CampaignOut]:
    """Campaigns in scope, newest first."""
    rows = service.list_campaigns(
        db, actor, status=status, branch_id=branch_id, limit=limit, offset=offset
    )
    return [campaign_out(c) for c in rows]


@router.post("", response_model=CampaignOut, status_code=201)
def create(body: CampaignCreate, actor: CurrentActor, db: Db) -> CampaignOut:
    """A new draft plan (centre head, director, analyst)."""
    return campaign_out(service.create_campaign(db, actor, body))


@router.post("/preview-count", response_model=PreviewOut)
def preview_count(body: PreviewIn, actor: CurrentActor, db: Db) -> PreviewOut:
    """How many customers in scope match a filter (the plan page's live count)."""
    return PreviewOut(count=rehearsal.preview_count(db, actor, body.filter, body.branch_id))


@router.get("/library", response_model=list[CampaignOut])
def plan_library(actor: CurrentActor, db: Db) -> list[CampaignOut]:
    """The plan library (方案库): completed and evaluated plans with their figures."""
    return [campaign_out(c) for c in evaluation.library(db, actor)]


@router.get("/approval-chain", response_model=ApprovalChainOut)
def approval_chain(
    actor: CurrentActor, db: Db, branch_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None
) -> ApprovalChainOut:
    """The approval chain a branch's plans go through (no branch: the default chain)."""
    actor.require(*service.CHAIN_READERS)
    roles, source, configured_for = approvals.resolve_chain(db, branch_id)
    return ApprovalChainOut(
        branch_id=branch_id, configured_for=configured_for, source=source, roles=roles
    )


@router.put("/approval-chain", response_model=ApprovalChainOut)
def set_approval_chain(body: ApprovalChainIn, actor: CurrentActor, db: Db) -> ApprovalChainOut:
    """Set a branch's (or the default) approval chain, level 1 first (admin; audited)."""
    approvals.set_chain(db, actor, body.branch_id, [Role(r) for r in body.roles])
    roles, source, configured_for = approvals.resolve_chain(db, body.branch_id)
    return ApprovalChainOut(
        branch_id=body.branch_id, configured_for=configured_for, source=source, roles=roles
    )


@router.get("/{campaign_id}", response_model=CampaignDetail)
def campaign(campaign_id: IdPath, actor: CurrentActor, db: Db) -> CampaignDetail:
    """One campaign in scope with its history."""
    found = service.get_campaign(db, actor, campaign_id)
    return CampaignDetail(
        **campaign_out(found).model_dump(),
        history=[TransitionOut.model_validate(t) for t in service.history(db, found.id)],
    )


@router.patch("/{campaign_id}", response_model=CampaignOut)
def update(campaign_id: IdPath, body: CampaignUpdate, actor: CurrentActor, db: Db) -> CampaignOut:
    """Change a plan (draft, rehearsed, submitted or rejected; it goes back to draft)."""
    return campaign_out(service.update_campaign(db, actor, campaign_id, body))


@router.post("/{campaign_id}/rehearse", response_model=CampaignOut)
def rehearse(campaign_id: IdPath, actor: CurrentActor, db: Db, tz: LocalTz) -> CampaignOut:
    """Run the plan on a sample and store the result (方案预演)."""
    return campaign_out(rehearsal.rehearse(db, actor, campaign_id, tz))


@router.post("/{campaign_id}/submit", response_model=CampaignOut)
def submit(campaign_id: IdPath, actor: CurrentActor, db: Db, tz: LocalTz) -> CampaignOut:
    """Send a rehearsed plan for approval."""
    return campaign_out(approvals.submit(db, actor, campaign_id, tz))


@router.post("/{campaign_id}/approve", response_model=CampaignOut)
def approve(
    campaign_id: IdPath, actor: CurrentActor, db: Db, body: CommentIn | None = None
) -> CampaignOut:
    """Approve the current level."""
    comment = body.comment if body else None
    return campaign_out(approvals.approve(db, actor, campaign_id, comment))


@router.post("/{campaign_id}/reject", response_model=CampaignOut)
def reject(campaign_id: IdPath, body: CommentIn, actor: CurrentActor, db: Db) -> CampaignOut:
    """Reject the plan at the current level (comment required)."""
    return campaign_out(approvals.reject(db, actor, campaign_id, body.comment))


@router.post("/{campaign_id}/start", response_model=CampaignOut)
def start(campaign_id: IdPath, actor: CurrentActor, db: Db, tz: LocalTz) -> CampaignOut:
    """Start an approved campaign: members, hold-out, tasks."""
    return campaign_out(execution.start(db, actor, campaign_id, tz))


@router.post("/{campaign_id}/complete", response_model=CampaignOut)
def complete(campaign_id: IdPath, actor: CurrentActor, db: Db) -> CampaignOut:
    """End a running campaign; its open tasks expire."""
    return campaign_out(execution.complete(db, actor, campaign_id))


@router.post("/{campaign_id}/evaluate", response_model=CampaignOut)
def evaluate(campaign_id: IdPath, actor: CurrentActor, db: Db) -> CampaignOut:
    """Compare the treated members with the hold-out and store the figures."""
    return campaign_out(evaluation.evaluate(db, actor, campaign_id))


@router.post("/{campaign_id}/clone", response_model=CampaignOut, status_code=201)
def clone(campaign_id: IdPath, actor: CurrentActor, db: Db) -> CampaignOut:
    """A new draft copied from a plan (new schedule needed)."""
    return campaign_out(service.clone_campaign(db, actor, campaign_id))


@router.get("/{campaign_id}/members", response_model=MembersSummary)
def members(campaign_id: IdPath, actor: CurrentActor, db: Db) -> MembersSummary:
    """Members per arm, contacts, acceptances and tasks of a started campaign."""
    return MembersSummary(**evaluation.members_summary(db, actor, campaign_id))
