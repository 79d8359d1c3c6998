"""The demo's management day: weekly plans, the shift lead's daily checks, anomaly-pool entries
handed out and data-quality reports from the day's wrong numbers, all through the services the
pages use, so the management pages of ``weiwan demo`` have something to show.

Choices are drawn from a seeded random generator (never from the simulator's ground truth): a
stand-in for people, used only by ``weiwan demo``. Every part skips what exists already, so
running the demo again adds nothing.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from weiwan.core.db import session_scope
from weiwan.core.errors import WeiwanError
from weiwan.ops.anomalies import service as pool
from weiwan.ops.anomalies.models import Anomaly
from weiwan.ops.appraisal import work
from weiwan.ops.appraisal.models import DailyCheck, WeeklyPlan
from weiwan.ops.contacts.models import Contact, ContactOutcome
from weiwan.ops.dataquality.models import DataQualityReport
from weiwan.ops.dataquality.schemas import ReportIn
from weiwan.ops.dataquality.service import file_report
from weiwan.ops.org.access import Actor, actor_for
from weiwan.ops.org.models import User
from weiwan.ops.org.roles import Role

#: pool entries a shift lead hands out per agent of the team
POOL_PER_AGENT = 3
_GOALS = (
    "回访本周到期合约客户，优先金卡以上",
    "跟进上周未接通的高危客户",
    "完成新入网客户首月回访",
)


def _users(session: Session, role: Role) -> list[User]:
    return list(
        session.scalars(
            select(User).where(User.role == role.value, User.active.is_(True)).order_by(User.id)
        )
    )


def _plans(session: Session, agents: list[Actor], today: date, tz: ZoneInfo) -> int:
    week = today - timedelta(days=today.weekday())
    written = 0
    for number, agent in enumerate(agents):
        exists = session.scalar(
            select(WeeklyPlan.id).where(
                WeeklyPlan.user_id == agent.user_id, WeeklyPlan.week == week
            )
        )
        if exists is None:
            work.save_plan(
                session,
                agent,
                week,
                goals=_GOALS[number % len(_GOALS)],
                target_customers=40 + 10 * number,
                notes=None,
                tz=tz,
            )
            written += 1
    return written


def _checks(
    session: Session, lead: Actor, agents: list[Actor], day: date, tz: ZoneInfo, rng: random.Random
) -> int:
    written = 0
    for agent in agents:
        exists = session.scalar(
            select(DailyCheck.id).where(
                DailyCheck.agent_id == agent.user_id,
                DailyCheck.checker_id == lead.user_id,
                DailyCheck.day == day,
            )
        )
        if exists is not None:
            continue
        fine = rng.random() < 0.7
        work.record_check(
            session,
            lead,
            agent_id=agent.user_id,
            day=day,
            records_checked=rng.randint(5, 12),
            findings=None if fine else "两条记录未写拒绝原因，请补录。",
            result="ok" if fine else "needs_correction",
            tz=tz,
        )
        written += 1
    return written


def _hand_out_pool(session: Session, lead: Actor, agents: list[Actor], tz: ZoneInfo) -> int:
    """Up to ``POOL_PER_AGENT`` new entries of the lead's scope to each agent who has none."""
    _total, entries = pool.list_anomalies(
        session, lead, pool.Filters(status="new"), limit=POOL_PER_AGENT * len(agents) * 4
    )
    waiting = list(entries)
    handed = 0
    for agent in agents:
        has = session.scalar(select(Anomaly.id).where(Anomaly.assignee_id == agent.user_id))
        given = 0
        while has is None and given < POOL_PER_AGENT and waiting:
            entry = waiting.pop(0)
            try:
                pool.assign(session, lead, entry.id, assignee_id=agent.user_id, tz=tz)
            except WeiwanError:  # e.g. outside the agent's branch: leave it for someone else
                continue
            given += 1
        handed += given
    return handed


def _wrong_numbers(session: Session, agents: list[Actor], seed: int) -> int:
    """Half of the day's wrong numbers come back with the number the agent was given."""
    filed = 0
    for agent in agents:
        contacts = session.execute(
            select(Contact.id, Contact.subscriber_id)
            .join(ContactOutcome, ContactOutcome.contact_id == Contact.id)
            .where(Contact.user_id == agent.user_id, ContactOutcome.outcome == "wrong_number")
            .order_by(Contact.id)
        ).all()
        for contact_id, subscriber_id in contacts:
            # drawn per contact, so running the demo again files none of the others
            draw = random.Random(f"{seed}:{contact_id}")
            if draw.random() < 0.5:
                continue
            known = session.scalar(
                select(DataQualityReport.id).where(DataQualityReport.contact_id == contact_id)
            )
            if known is not None:
                continue
            number = f"1{draw.choice('3589')}{draw.randrange(10**9):09d}"
            body = ReportIn(
                subscriber_id=subscriber_id,
                field="msisdn",
                reported_value=number,
                note="客户家属接听，提供了本人新号码",
                contact_id=contact_id,
            )
            try:
                file_report(session, agent, body)
            except WeiwanError:  # e.g. already reported and open
                continue
            filed += 1
    return filed


def manage_the_day(
    engine: Engine, tz: ZoneInfo, *, seed: int = 11, now: datetime | None = None
) -> dict[str, int]:
    """Weekly plans of the demo agents, the shift lead's checks of yesterday, pool entries
    handed out (by the shift lead, then by the centre head from the whole branch) and
    data-quality reports filed; counts of what was added."""
    rng = random.Random(seed)
    today = (now or datetime.now(UTC)).astimezone(tz).date()
    counts = {"plans": 0, "checks": 0, "pool_assigned": 0, "data_quality": 0}
    with session_scope(engine) as session:
        agents = [actor_for(session, user) for user in _users(session, Role.AGENT)]
        leads = [actor_for(session, user) for user in _users(session, Role.SHIFT_LEAD)]
        counts["plans"] = _plans(session, agents, today, tz)
        heads = [actor_for(session, user) for user in _users(session, Role.CENTRE_HEAD)]
        for lead in leads:
            team = [a for a in agents if lead.team_id is not None and a.team_id == lead.team_id]
            counts["checks"] += _checks(session, lead, team, today - timedelta(days=1), tz, rng)
            counts["pool_assigned"] += _hand_out_pool(session, lead, team, tz)
        for head in heads:  # the branch's entries the team leads do not see
            mine = [a for a in agents if a.branch_id in head.branch_ids]
            counts["pool_assigned"] += _hand_out_pool(session, head, mine, tz)
        counts["data_quality"] = _wrong_numbers(session, agents, seed)
    return counts
