"""Weekly plans (周计划) and daily checks (每日抽查).

Agents (and shift leads) write their own plan for an ISO week, editable until the week ends;
shift leads, centre heads and directors read the plans of the people whose work they see and
comment on them. Shift leads (and up) record their check of an agent's records of a day; the
agent sees the checks on them. Scope as everywhere (:func:`user_scope_clause`): someone else's
plan or check outside the reader's scope is answered 404 like a missing one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.core.errors import InvalidRequestError, NotFoundError
from weiwan.ops.base import utcnow
from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import User
from weiwan.ops.org.roles import Role
from weiwan.ops.scope import user_scope_clause

from .models import CHECK_RESULTS, DailyCheck, WeeklyPlan

PLAN_WRITERS = (Role.AGENT, Role.SHIFT_LEAD)
MANAGERS = (Role.SHIFT_LEAD, Role.CENTRE_HEAD, Role.DIRECTOR)
READERS = (Role.AGENT, *MANAGERS)
#: how many weeks ahead a plan may be written
WEEKS_AHEAD = 8


def parse_week(value: str) -> date:
    """``YYYY-Www`` (ISO week) as its Monday; :class:`InvalidRequestError` otherwise."""
    try:
        year, week = value.split("-W")
        return date.fromisocalendar(int(year), int(week), 1)
    except ValueError as exc:
        raise InvalidRequestError(
            f"not an ISO week: {value!r}; use 2026-W48", field="week"
        ) from exc


def week_label(monday: date) -> str:
    """The ISO week of ``monday`` as ``YYYY-Www``."""
    year, week, _day = monday.isocalendar()
    return f"{year}-W{week:02d}"


def week_ended(monday: date, tz: ZoneInfo, now: datetime | None = None) -> bool:
    """Whether the week starting ``monday`` is over in the centre's time zone."""
    end = datetime.combine(monday + timedelta(days=7), time(), tz)
    return (now or utcnow()) >= end


def _plans_query(actor: Actor):  # type: ignore[no-untyped-def]
    return (
        select(WeeklyPlan, User)
        .join(User, User.id == WeeklyPlan.user_id)
        .where(user_scope_clause(actor, WeeklyPlan.user_id))
    )


def get_plan(session: Session, actor: Actor, user_id: int, week: date) -> tuple[WeeklyPlan, User]:
    """The plan of ``user_id`` for ``week`` if the actor sees it; 404 otherwise."""
    actor.require(*READERS)
    row = session.execute(
        _plans_query(actor).where(WeeklyPlan.user_id == user_id, WeeklyPlan.week == week)
    ).first()
    if row is None:
        raise NotFoundError(f"no weekly plan of user {user_id} for {week_label(week)}")
    return row[0], row[1]


def list_plans(
    session: Session,
    actor: Actor,
    *,
    week: date | None = None,
    user_id: int | None = None,
    limit: int = 500,
) -> list[tuple[WeeklyPlan, User]]:
    """Plans in scope, newest week first."""
    actor.require(*READERS)
    query = _plans_query(actor)
    if week is not None:
        query = query.where(WeeklyPlan.week == week)
    if user_id is not None:
        query = query.where(WeeklyPlan.user_id == user_id)
    rows = session.execute(
        query.order_by(WeeklyPlan.week.desc(), User.display_name, User.id).limit(limit)
    ).all()
    return [(r[0], r[1]) for r in rows]


def save_plan(
    session: Session,
    actor: Actor,
    week: date,
    *,
    goals: str,
    target_customers: int,
    notes: str | None,
    tz: ZoneInfo,
) -> WeeklyPlan:
    """Write or rewrite one's own plan for ``week`` (until the week ends)."""
    actor.require(*PLAN_WRITERS)
    if week_ended(week, tz):
        raise InvalidRequestError(f"week {week_label(week)} has ended", field="week")
    today = utcnow().astimezone(tz).date()
    if week > today + timedelta(weeks=WEEKS_AHEAD):
        raise InvalidRequestError(f"plan at most {WEEKS_AHEAD} weeks ahead", field="week")
    if not goals.strip():
        raise InvalidRequestError("write the week's goals", field="goals")
    plan = session.scalar(
        select(WeeklyPlan).where(WeeklyPlan.user_id == actor.user_id, WeeklyPlan.week == week)
    )
    now = utcnow()
    if plan is None:
        plan = WeeklyPlan(user_id=actor.user_id, week=week, created_at=now)
        session.add(plan)
    plan.goals = goals.strip()
    plan.target_customers = target_customers
    plan.notes = (notes or "").strip() or None
    plan.updated_at = now
    session.flush()
    return plan


def comment_plan(
    session: Session, actor: Actor, user_id: int, week: date, comment: str
) -> tuple[WeeklyPlan, User]:
    """A manager's comment on a plan in scope (replaces the previous comment)."""
    actor.require(*MANAGERS)
    plan, user = get_plan(session, actor, user_id, week)
    if not comment.strip():
        raise InvalidRequestError("write a comment", field="comment")
    plan.comment = comment.strip()
    plan.comment_by = actor.user_id
    plan.commented_at = utcnow()
    session.flush()
    return plan, user


def _agent_in_scope(session: Session, actor: Actor, agent_id: int) -> User:
    agent = session.scalar(
        select(User).where(
            User.id == agent_id,
            User.role == Role.AGENT.value,
            user_scope_clause(actor, User.id),
        )
    )
    if agent is None:
        raise NotFoundError(f"no agent {agent_id}")
    return agent


def record_check(
    session: Session,
    actor: Actor,
    *,
    agent_id: int,
    day: date,
    records_checked: int,
    findings: str | None,
    result: str,
    tz: ZoneInfo,
) -> DailyCheck:
    """Record (or re-record: one per agent, checker and day) a check of an agent's records."""
    actor.require(*MANAGERS)
    _agent_in_scope(session, actor, agent_id)
    if day > utcnow().astimezone(tz).date():
        raise InvalidRequestError("the day has not come yet", field="day")
    if result not in CHECK_RESULTS:
        raise InvalidRequestError(f"use {', '.join(CHECK_RESULTS)}", field="result")
    if result == "needs_correction" and not (findings or "").strip():
        raise InvalidRequestError("write what needs correcting", field="findings")
    check = session.scalar(
        select(DailyCheck).where(
            DailyCheck.agent_id == agent_id,
            DailyCheck.checker_id == actor.user_id,
            DailyCheck.day == day,
        )
    )
    if check is None:
        check = DailyCheck(agent_id=agent_id, checker_id=actor.user_id, day=day)
        session.add(check)
    check.records_checked = records_checked
    check.findings = (findings or "").strip() or None
    check.result = result
    check.at = utcnow()
    session.flush()
    return check


def list_checks(
    session: Session,
    actor: Actor,
    *,
    agent_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = 500,
) -> Sequence[DailyCheck]:
    """Checks of agents in scope (an agent: the checks on them), newest day first."""
    actor.require(*READERS)
    query = select(DailyCheck).where(user_scope_clause(actor, DailyCheck.agent_id))
    if agent_id is not None:
        query = query.where(DailyCheck.agent_id == agent_id)
    if since is not None:
        query = query.where(DailyCheck.day >= since)
    if until is not None:
        query = query.where(DailyCheck.day <= until)
    return session.scalars(
        query.order_by(DailyCheck.day.desc(), DailyCheck.id.desc()).limit(limit)
    ).all()


def user_names(session: Session, ids: set[int]) -> dict[int, str]:
    """Display names of ``ids``."""
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all()
    return {int(i): str(n) for i, n in rows}
