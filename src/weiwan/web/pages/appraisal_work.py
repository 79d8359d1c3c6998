"""Pages of weekly plans (周计划, /appraisal/weekly-plans) and daily checks (每日抽查,
/appraisal/daily-checks): the same services as the API's routes."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from weiwan.core.errors import InvalidRequestError
from weiwan.ops.appraisal import work
from weiwan.ops.org.models import User
from weiwan.ops.org.roles import Role
from weiwan.ops.scope import user_scope_clause
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.pages.deps import Db, LocalTz, PageActor, PageForm, export_tables
from weiwan.web.tables import Column, Table, wants_export
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)

PLAN_COLUMNS = (
    Column("week", _l("Week")),
    Column("user", _l("Agent")),
    Column("goals", _l("Goals")),
    Column("target_customers", _l("Target customers"), "int"),
    Column("notes", _l("Notes")),
    Column("updated_at", _l("Updated"), "datetime"),
    Column("comment", _l("Comment")),
)
CHECK_COLUMNS = (
    Column("day", _l("Day"), "date"),
    Column("agent", _l("Agent")),
    Column("checker", _l("Checked by")),
    Column("records_checked", _l("Records checked"), "int"),
    Column("result", _l("Result")),
    Column("findings", _l("Findings")),
)
RESULT_LABELS: dict[str, Any] = {"ok": _l("OK"), "needs_correction": _l("Needs correction")}


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _week(value: str | None, tz: Any) -> date:
    if not value:
        return _monday(datetime.now(tz).date())
    try:
        return work.parse_week(value)
    except InvalidRequestError as exc:
        raise InvalidRequestError(_("Use a week like 2026-W48."), field="week") from exc


def _day(value: str | None, default: date, field: str) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRequestError(_("Use a date like 2026-11-24."), field=field) from exc


def _int(value: Any, field: str) -> int:
    try:
        number = int(str(value or "0"))
    except ValueError as exc:
        raise InvalidRequestError(_("Give a whole number."), field=field) from exc
    if number < 0:
        raise InvalidRequestError(_("Give a whole number."), field=field)
    return number


@router.get("/appraisal/weekly-plans")
def weekly_plans(
    request: Request, actor: PageActor, db: Db, tz: LocalTz, week: str | None = None
) -> Response:
    """One's own plan of the week (writers) and the plans in scope (managers: to comment)."""
    actor.require(*work.READERS)
    monday = _week(week, tz)
    rows = work.list_plans(db, actor, week=monday if actor.role is not Role.AGENT else None)
    own = next(
        (p for p, _u in work.list_plans(db, actor, week=monday, user_id=actor.user_id)), None
    )
    table_rows = [
        {
            "week": work.week_label(plan.week),
            "user_id": user.id,
            "user": user.display_name,
            "goals": plan.goals,
            "target_customers": plan.target_customers,
            "notes": plan.notes,
            "updated_at": plan.updated_at,
            "comment": plan.comment,
        }
        for plan, user in rows
    ]
    table = Table(
        "weekly-plans",
        PLAN_COLUMNS,
        table_rows,
        title=_("Weekly plans"),
        empty=_("No weekly plans."),
    )
    if wants_export(request):
        return export_tables(request, actor, db, [table], f"weekly-plans-{monday}", tz)
    return render(
        request,
        "appraisal/weekly_plans.html",
        {
            "table": table,
            "week": work.week_label(monday),
            "previous": work.week_label(monday - timedelta(days=7)),
            "next": work.week_label(monday + timedelta(days=7)),
            "own": own,
            "may_write": actor.role in work.PLAN_WRITERS,
            "may_comment": actor.role in work.MANAGERS,
            "ended": work.week_ended(monday, tz),
        },
    )


@router.post("/appraisal/weekly-plans")
def save_plan(actor: PageActor, db: Db, tz: LocalTz, form: PageForm) -> Response:
    """Write one's own plan (as ``PUT /api/v1/appraisal/weekly-plans/{week}``)."""
    week = str(form.get("week") or "")
    work.save_plan(
        db,
        actor,
        _week(week, tz),
        goals=str(form.get("goals") or ""),
        target_customers=_int(form.get("target_customers"), "target_customers"),
        notes=str(form.get("notes") or ""),
        tz=tz,
    )
    return RedirectResponse(f"/appraisal/weekly-plans?week={week}", status_code=303)


@router.post("/appraisal/weekly-plans/{user_id}/{week}/comment")
def comment_plan(
    user_id: int, week: str, actor: PageActor, db: Db, tz: LocalTz, form: PageForm
) -> Response:
    """A manager's comment on a plan in scope."""
    work.comment_plan(db, actor, user_id, _week(week, tz), str(form.get("comment") or ""))
    return RedirectResponse(f"/appraisal/weekly-plans?week={week}", status_code=303)


def _agents(db: Any, actor: Any) -> list[User]:
    return list(
        db.scalars(
            select(User)
            .where(
                User.active.is_(True),
                User.role == Role.AGENT.value,
                user_scope_clause(actor, User.id),
            )
            .order_by(User.display_name, User.id)
        )
    )


@router.get("/appraisal/daily-checks")
def daily_checks(
    request: Request,
    actor: PageActor,
    db: Db,
    tz: LocalTz,
    since: str | None = None,
    until: str | None = None,
) -> Response:
    """Checks of agents in scope (an agent: the checks on them) and the form to record one."""
    actor.require(*work.READERS)
    today = datetime.now(tz).date()
    first = _day(since, today - timedelta(days=30), "since")
    last = _day(until, today, "until")
    checks = list(work.list_checks(db, actor, since=first, until=last))
    names = work.user_names(db, {c.agent_id for c in checks} | {c.checker_id for c in checks})
    rows = [
        {
            "day": c.day,
            "agent": names.get(c.agent_id, "—"),
            "checker": names.get(c.checker_id, "—"),
            "records_checked": c.records_checked,
            "result": str(RESULT_LABELS.get(c.result, c.result)),
            "result_code": c.result,
            "findings": c.findings,
        }
        for c in checks
    ]
    table = Table(
        "daily-checks", CHECK_COLUMNS, rows, title=_("Daily checks"), empty=_("No checks.")
    )
    if wants_export(request):
        return export_tables(request, actor, db, [table], f"daily-checks-{first}-{last}", tz)
    may_check = actor.role in work.MANAGERS
    return render(
        request,
        "appraisal/daily_checks.html",
        {
            "table": table,
            "since": first,
            "until": last,
            "today": today,
            "may_check": may_check,
            "agents": _agents(db, actor) if may_check else [],
            "results": RESULT_LABELS,
        },
    )


@router.post("/appraisal/daily-checks")
def record_check(actor: PageActor, db: Db, tz: LocalTz, form: PageForm) -> Response:
    """Record a check (as ``POST /api/v1/appraisal/daily-checks``)."""
    work.record_check(
        db,
        actor,
        agent_id=_int(form.get("agent_id"), "agent_id"),
        day=_day(str(form.get("day") or ""), datetime.now(tz).date(), "day"),
        records_checked=_int(form.get("records_checked"), "records_checked"),
        findings=str(form.get("findings") or ""),
        result=str(form.get("result") or ""),
        tz=tz,
    )
    return RedirectResponse("/appraisal/daily-checks", status_code=303)
