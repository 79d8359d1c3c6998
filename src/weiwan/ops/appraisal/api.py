"""Routes: the appraisal scheme (targets, standards, weights), weekly plans, daily checks and
monthly scorecards."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from weiwan.ops.deps import CurrentActor, Db, LocalTz
from weiwan.ops.org.access import Actor
from weiwan.ops.reports.common import parse_month
from weiwan.ops.types import MAX_ID, IdPath

from . import scheme as scheme_service
from . import scorecards as cards_service
from . import work
from .models import DailyCheck, WeeklyPlan
from .schemas import (
    CardOut,
    CheckIn,
    CheckOut,
    CommentIn,
    HistoryOut,
    PlanIn,
    PlanOut,
    ScorecardsOut,
    SettingsIn,
    SettingsOut,
)

router = APIRouter(prefix="/appraisal", tags=["appraisal"])
Level = Literal["agent", "team", "branch"]


def scheme_out(db: Session, actor: Actor) -> SettingsOut:
    """The scheme in effect as the API shows them."""
    return SettingsOut(
        text=scheme_service.current_text(db),
        settings=scheme_service.current_scheme(db).as_json(),
        editable=actor.role in scheme_service.SCHEME_WRITERS,
    )


def plan_out(plan: WeeklyPlan, user_name: str, tz: LocalTz) -> PlanOut:
    """A plan as the API shows it."""
    return PlanOut(
        user_id=plan.user_id,
        user_name=user_name,
        week=work.week_label(plan.week),
        week_start=plan.week,
        goals=plan.goals,
        target_customers=plan.target_customers,
        notes=plan.notes,
        updated_at=plan.updated_at,
        comment=plan.comment,
        comment_by=plan.comment_by,
        commented_at=plan.commented_at,
        editable=not work.week_ended(plan.week, tz),
    )


def checks_out(db: Session, checks: list[DailyCheck]) -> list[CheckOut]:
    """Checks with the agents' and checkers' names."""
    names = work.user_names(db, {c.agent_id for c in checks} | {c.checker_id for c in checks})
    return [
        CheckOut(
            id=c.id,
            agent_id=c.agent_id,
            agent_name=names.get(c.agent_id, "—"),
            checker_id=c.checker_id,
            checker_name=names.get(c.checker_id, "—"),
            day=c.day,
            records_checked=c.records_checked,
            findings=c.findings,
            result=c.result,
            at=c.at,
        )
        for c in checks
    ]


def card_out(card: cards_service.Card) -> CardOut:
    """A card as the API shows it."""
    return CardOut(
        level=card.level,
        subject_id=card.subject_id,
        name=card.name,
        branch_id=card.branch_id,
        team_id=card.team_id,
        score=card.score,
        rank=card.rank,
        figures=card.figures,
    )


@router.get("/settings", response_model=SettingsOut)
def get_settings(actor: CurrentActor, db: Db) -> SettingsOut:
    """Targets, daily contact standards and weights in effect."""
    actor.require(*scheme_service.SCHEME_READERS)
    return scheme_out(db, actor)


@router.put(
    "/settings",
    response_model=SettingsOut,
    responses={
        422: {"description": "an entry is wrong (each named with its field); nothing saved"}
    },
)
def put_settings(body: SettingsIn, actor: CurrentActor, db: Db) -> object:
    """Replace the scheme (validated against the organisation; audited)."""
    try:
        scheme_service.save_scheme(db, actor, body.text)
    except scheme_service.SchemeError as exc:
        return JSONResponse(
            {
                "detail": str(exc),
                "field": exc.field,
                "errors": [
                    {"entry": p.entry, "field": p.field, "message": p.message} for p in exc.problems
                ],
                "more_errors": exc.more,
            },
            status_code=422,
        )
    return scheme_out(db, actor)


@router.get("/weekly-plans", response_model=list[PlanOut])
def plans(
    actor: CurrentActor,
    db: Db,
    tz: LocalTz,
    week: Annotated[str | None, Query(max_length=10)] = None,
    user_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[PlanOut]:
    """Weekly plans in scope (an agent: their own), newest week first."""
    monday = work.parse_week(week) if week else None
    rows = work.list_plans(db, actor, week=monday, user_id=user_id)
    return [plan_out(plan, user.display_name, tz) for plan, user in rows]


@router.put("/weekly-plans/{week}", response_model=PlanOut)
def put_plan(week: str, body: PlanIn, actor: CurrentActor, db: Db, tz: LocalTz) -> PlanOut:
    """Write one's own plan for an ISO week (``2026-W48``) until the week ends."""
    plan = work.save_plan(
        db,
        actor,
        work.parse_week(week),
        goals=body.goals,
        target_customers=body.target_customers,
        notes=body.notes,
        tz=tz,
    )
    return plan_out(plan, actor.display_name, tz)


@router.get("/weekly-plans/{user_id}/{week}", response_model=PlanOut)
def plan(user_id: IdPath, week: str, actor: CurrentActor, db: Db, tz: LocalTz) -> PlanOut:
    """One plan in scope."""
    found, user = work.get_plan(db, actor, user_id, work.parse_week(week))
    return plan_out(found, user.display_name, tz)


@router.post("/weekly-plans/{user_id}/{week}/comment", response_model=PlanOut)
def comment(
    user_id: IdPath, week: str, body: CommentIn, actor: CurrentActor, db: Db, tz: LocalTz
) -> PlanOut:
    """A shift lead's (or centre head's, director's) comment on a plan in scope."""
    found, user = work.comment_plan(db, actor, user_id, work.parse_week(week), body.comment)
    return plan_out(found, user.display_name, tz)


@router.get("/daily-checks", response_model=list[CheckOut])
def checks(
    actor: CurrentActor,
    db: Db,
    agent_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    since: date | None = None,
    until: date | None = None,
) -> list[CheckOut]:
    """Daily checks of agents in scope (an agent: the checks on them), newest first."""
    found = work.list_checks(db, actor, agent_id=agent_id, since=since, until=until)
    return checks_out(db, list(found))


@router.post("/daily-checks", response_model=CheckOut)
def record_check(body: CheckIn, actor: CurrentActor, db: Db, tz: LocalTz) -> CheckOut:
    """Record the check of an agent's records of a day (again: replaces one's own)."""
    check = work.record_check(
        db,
        actor,
        agent_id=body.agent_id,
        day=body.day,
        records_checked=body.records_checked,
        findings=body.findings,
        result=body.result,
        tz=tz,
    )
    return checks_out(db, [check])[0]


@router.get("/scorecards", response_model=ScorecardsOut)
def scorecards(
    actor: CurrentActor,
    db: Db,
    tz: LocalTz,
    month: Annotated[str | None, Query(max_length=7)] = None,
    level: Level = "agent",
) -> ScorecardsOut:
    """The scorecards of a month (default: the current one, live) and level in scope."""
    first = parse_month(month, tz)
    found, closed = cards_service.scorecards(db, actor, first, level, tz)
    return ScorecardsOut(
        month=first.strftime("%Y-%m"),
        level=level,
        closed=closed,
        cards=[card_out(c) for c in found],
    )


@router.get("/scorecards/{level}/{subject_id}/history", response_model=list[HistoryOut])
def scorecard_history(
    level: Level, subject_id: IdPath, actor: CurrentActor, db: Db, tz: LocalTz
) -> list[HistoryOut]:
    """A subject's scorecards month by month (closed months, then the current one live)."""
    return [
        HistoryOut(month=m.strftime("%Y-%m"), closed=closed, card=card_out(card))
        for m, card, closed in cards_service.history(db, actor, level, subject_id, tz)
    ]
