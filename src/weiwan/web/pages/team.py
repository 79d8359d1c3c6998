"""Pages of the team area: the shift lead's team board with reassignment (/team) and call
quality inspection (/quality). Shift lead: own team; centre head: branch; director: all (the
scope rules of ``ops.org.access``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from weiwan.core.errors import InvalidRequestError
from weiwan.ops.appraisal import board
from weiwan.ops.appraisal.scheme import daily_standard
from weiwan.ops.tasks import service as tasks
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.pages.deps import Db, LocalTz, PageActor, PageForm, export_tables
from weiwan.web.pages.team_quality import router as quality_router
from weiwan.web.tables import Column, Table, wants_export
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)
router.include_router(quality_router)

BOARD_COLUMNS = (
    Column("display_name", _l("Agent")),
    Column("open_tasks", _l("Open tasks"), "int"),
    Column("due_today", _l("Due today"), "int"),
    Column("overdue", _l("Overdue"), "int"),
    Column("done_today", _l("Done today"), "int"),
    Column("contacts_today", _l("Contacts today"), "int"),
    Column("connect_rate", _l("Connect rate"), "percent"),
    Column("acceptances_today", _l("Acceptances today"), "int"),
)
_SUMMED = (
    "open_tasks",
    "due_today",
    "overdue",
    "done_today",
    "contacts_today",
    "reached_today",
    "acceptances_today",
)


def parse_day(value: str | None, default: date) -> date:
    """A ``YYYY-MM-DD`` query value (the default when empty; 422 when malformed)."""
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRequestError(_("Use a date like 2026-11-24."), field="day") from exc


def board_rows(entries: list[board.AgentDay]) -> list[dict[str, Any]]:
    """The board's rows (one per agent) followed by the totals row."""
    rows: list[dict[str, Any]] = []
    for entry in entries:
        rows.append(
            {
                "user_id": entry.user_id,
                "display_name": entry.display_name,
                "open_tasks": entry.open_tasks,
                "due_today": entry.due_today,
                "overdue": entry.overdue,
                "done_today": entry.done_today,
                "contacts_today": entry.contacts_today,
                "reached_today": entry.reached_today,
                "connect_rate": entry.connect_rate,
                "acceptances_today": entry.acceptances_today,
                "below_standard": entry.below_standard,
            }
        )
    totals: dict[str, Any] = {key: sum(r[key] for r in rows) for key in _SUMMED}
    totals["display_name"] = str(_("Total"))
    totals["connect_rate"] = (
        totals["reached_today"] / totals["contacts_today"] if totals["contacts_today"] else None
    )
    totals["is_total"] = True
    return [*rows, totals] if rows else rows


@router.get("/team")
def team_board(
    request: Request,
    actor: PageActor,
    db: Db,
    tz: LocalTz,
    day: str | None = None,
    agent: int | None = None,
    moved: int | None = None,
) -> Response:
    """The team board: per agent today's tasks, contacts against the daily standard, connect
    rate and acceptances, with a totals row; the reassignment panel for one agent."""
    actor.require(*board.BOARD_READERS)
    today = datetime.now(tz).date()
    chosen_day = parse_day(day, today)
    entries = board.team_board(db, actor, chosen_day, tz)
    table = Table(
        "team-board",
        BOARD_COLUMNS,
        board_rows(entries),
        title=_("Team board of %(day)s", day=chosen_day.isoformat()),
        empty=_("No agents in your team."),
    )
    if wants_export(request):
        return export_tables(request, actor, db, [table], f"team-board-{chosen_day}", tz)
    selected = next((e for e in entries if e.user_id == agent), None)
    agent_tasks = board.open_tasks_of(db, actor, selected.user_id) if selected else []
    return render(
        request,
        "team/board.html",
        {
            "table": table,
            "day": chosen_day,
            "is_today": chosen_day == today,
            "standard": daily_standard(db),
            "below": [e for e in entries if e.below_standard],
            "agents": entries,
            "selected": selected,
            "agent_tasks": agent_tasks,
            "flash": _("%(num)s tasks reassigned.", num=moved) if moved is not None else None,
        },
    )


@router.post("/team/reassign")
def reassign(request: Request, actor: PageActor, db: Db, form: PageForm) -> Response:
    """Transfer the chosen open tasks of one agent to another agent of the team (the task
    service's transfer, history kept)."""
    actor.require(*board.BOARD_READERS)
    task_ids = [int(str(v)) for v in form.getlist("task_id") if str(v).isdigit()]
    target = str(form.get("to_user_id") or "")
    from_agent = str(form.get("from_agent") or "")
    reason = str(form.get("reason") or "").strip() or None
    if not task_ids:
        raise InvalidRequestError(_("Choose at least one task."), field="task_id")
    if not target.isdigit():
        raise InvalidRequestError(_("Choose the agent who takes the tasks."), field="to_user_id")
    team = {a.id for a in board.team_agents(db, actor)}
    if int(target) not in team:
        raise InvalidRequestError(_("The agent is not in your team."), field="to_user_id")
    _transfer_all(db, actor, task_ids, int(target), reason)
    back = f"/team?agent={from_agent}&moved={len(task_ids)}" if from_agent.isdigit() else "/team"
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": back})
    return RedirectResponse(back, status_code=303)


def _transfer_all(
    db: Any, actor: Any, task_ids: list[int], to_user_id: int, reason: str | None
) -> None:
    for task_id in task_ids:
        tasks.transfer_task(
            db, actor, task_id, to_user_id=to_user_id, reason=reason or "reassigned by shift lead"
        )
