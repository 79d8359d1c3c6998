"""Evaluation against the hold-out, the plan library (方案库) and a campaign's members
summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from weiwan.ops.base import utcnow
from weiwan.ops.campaigns.models import (
    COMPLETED,
    EVALUATED,
    HOLDOUT,
    TREATED,
    Campaign,
    CampaignMember,
)
from weiwan.ops.campaigns.service import (
    LIBRARY,
    RUNNERS,
    dump,
    expect,
    get_campaign,
    loads,
    require,
    transition,
    visible_clause,
)
from weiwan.ops.contacts.models import Acceptance, Contact
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.org.access import Actor
from weiwan.ops.tasks.models import Task

#: a member is retained when the latest customer view still has them with this status
ACTIVE = "active"


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
    require(actor, RUNNERS, campaign.branch_id)
    expect(campaign, (COMPLETED, EVALUATED), "evaluate")
    figures = evaluation_figures(session, campaign.id)
    now = utcnow()
    figures["at"] = now.isoformat()
    campaign.evaluation = dump(figures)
    campaign.evaluated_at = now
    transition(session, campaign, actor, EVALUATED)
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
        "skipped_objecting": int(summary.get("skipped_objecting", 0)),
        "contacted_treated": figures[TREATED]["contacted"],
        "contacted_holdout": figures[HOLDOUT]["contacted"],
        "accepted_treated": figures[TREATED]["accepted"],
        "tasks": {str(k): int(v) for k, v in tasks.items()},
    }
