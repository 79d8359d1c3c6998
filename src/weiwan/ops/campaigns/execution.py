"""Running a campaign: start (members, hold-out, tasks), complete, and the treated members the
SMS domain sends to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from weiwan.core.errors import ConflictError, localisable
from weiwan.ops.base import utcnow
from weiwan.ops.campaigns.models import (
    APPROVED,
    COMPLETED,
    HOLDOUT,
    RUNNING,
    TREATED,
    Campaign,
    CampaignMember,
)
from weiwan.ops.campaigns.rehearsal import (
    busy_clause,
    in_holdout,
    targets_without_objectors,
)
from weiwan.ops.campaigns.service import (
    RUNNERS,
    dump,
    expect,
    get_campaign,
    loads,
    require,
    schedule,
    transition,
)
from weiwan.ops.consents.service import automated_objector_clause
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.org.access import Actor
from weiwan.ops.tasks.due import end_of_day, local_today
from weiwan.ops.tasks.models import Task
from weiwan.ops.tasks.service import STAFFED_CHANNELS, TaskSpec, create_tasks

PAGE = 5_000
OPEN_TASK = "open"
EXPIRED_TASK = "expired"


def _member_policy(policy_ids: Sequence[str], eligible: str | None) -> str:
    allowed = set(eligible.split()) if eligible else set()
    return next((p for p in policy_ids if p in allowed), policy_ids[0])


def start(session: Session, actor: Actor, campaign_id: int, tz: ZoneInfo) -> Campaign:
    """approved → running, on or after the schedule start: materialise the members (treated /
    hold-out by hash), skip customers already in another running campaign, and create tasks
    for the treated members in the staffed channels (due at the schedule end)."""
    campaign = get_campaign(session, actor, campaign_id, for_update=True)
    require(actor, RUNNERS, campaign.branch_id)
    expect(campaign, (APPROVED,), "start")
    first, last = schedule(campaign)
    today = local_today(tz)
    if today < first:
        raise localisable(
            ConflictError(f"the campaign is scheduled to start on {first.isoformat()}"),
            "The campaign starts on %(day)s; it can be started from that day.",
            day=first.isoformat(),
        )
    if today > last:
        raise localisable(
            ConflictError(f"the campaign's schedule ended on {last.isoformat()}"),
            "The campaign's schedule ended on %(day)s; change the plan's dates first.",
            day=last.isoformat(),
        )
    policy_ids: list[str] = loads(campaign.policy_ids)
    staffed = [c for c in loads(campaign.channels) if c in STAFFED_CHANNELS]
    due = end_of_day(last, tz)
    where, objecting = targets_without_objectors(session, campaign)
    skipped = int(
        session.scalar(
            select(func.count()).select_from(CustomerView).where(where, busy_clause(campaign.id))
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
            .where(where, ~busy_clause(campaign.id), CustomerView.subscriber_id > after)
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
    campaign.start_summary = dump(
        {
            "at": now.isoformat(),
            "members": counts[TREATED] + counts[HOLDOUT],
            "treated": counts[TREATED],
            "holdout": counts[HOLDOUT],
            "skipped_running": skipped,
            "skipped_objecting": objecting,
            "tasks_created": tasks,
            "task_channels": staffed,
        }
    )
    transition(
        session,
        campaign,
        actor,
        RUNNING,
        note={
            "kind": "started",
            "treated": counts[TREATED],
            "holdout": counts[HOLDOUT],
            "skipped": skipped,
        },
    )
    return campaign


def treated_members(session: Session, campaign_id: int) -> list[str]:
    """Subscriber ids of the campaign's treated arm (for the SMS domain's campaign sends),
    without those who have objected to automated decisions since it started."""
    return list(
        session.scalars(
            select(CampaignMember.subscriber_id)
            .where(
                CampaignMember.campaign_id == campaign_id,
                CampaignMember.arm == TREATED,
                ~automated_objector_clause(CampaignMember.subscriber_id),
            )
            .order_by(CampaignMember.subscriber_id)
        )
    )


def complete(session: Session, actor: Actor, campaign_id: int) -> Campaign:
    """running → completed; the campaign's open tasks expire."""
    campaign = get_campaign(session, actor, campaign_id, for_update=True)
    require(actor, RUNNERS, campaign.branch_id)
    expect(campaign, (RUNNING,), "complete")
    now = utcnow()
    result = session.execute(
        update(Task)
        .where(Task.campaign_id == campaign.id, Task.status == OPEN_TASK)
        .values(status=EXPIRED_TASK, closed_at=now, closed_reason="campaign completed")
        .execution_options(synchronize_session=False)
    )
    expired = int(result.rowcount or 0)  # type: ignore[attr-defined]
    campaign.completed_at = now
    transition(session, campaign, actor, COMPLETED, note={"kind": "completed", "expired": expired})
    return campaign
