"""Pages of the appraisal area (绩效考核): monthly scorecards with ranking, history chart and
export (/appraisal/scorecards) and the scheme editor with its validation messages
(/appraisal/targets); weekly plans and daily checks are in ``appraisal_work``. Each shows
what the API's routes show, through the same services."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from weiwan.core.errors import InvalidRequestError
from weiwan.core.months import add_months
from weiwan.ops.appraisal import scheme as appraisal_scheme
from weiwan.ops.appraisal import scorecards as service
from weiwan.ops.appraisal.models import LEVELS
from weiwan.ops.org.directory import branch_names, display_names, team_names
from weiwan.ops.org.roles import Scope
from weiwan.web.errors import more_problems, translated
from weiwan.web.i18n import current_language
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.labels import ROLES, label
from weiwan.web.pages.appraisal_work import router as work_router
from weiwan.web.pages.dashboard_charts import line_chart
from weiwan.web.pages.deps import Db, LocalTz, PageActor, PageForm, export_tables
from weiwan.web.tables import Column, Table, wants_export
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)
router.include_router(work_router)

LEVEL_LABELS: dict[str, Any] = {
    "agent": _l("Agents"),
    "team": _l("Teams"),
    "branch": _l("Branches"),
}
#: months offered besides the closed ones
RECENT_MONTHS = 6


def _subject_link(row: Any) -> str:
    return f"/appraisal/scorecards?month={row['month']}&level={row['level']}&subject={row['id']}"


CARD_COLUMNS = (
    Column("rank", _l("Rank"), "int"),
    Column("name", _l("Name"), "link", href=_subject_link),
    Column("score", _l("Score"), "number"),
    Column("contacts", _l("Contacts"), "int"),
    Column("expected_contacts", _l("Standard contacts"), "int"),
    Column("contacts_attainment", _l("Against the standard"), "percent"),
    Column("connect_rate", _l("Connect rate"), "percent"),
    Column("retention_success_rate", _l("Retention success rate"), "percent"),
    Column("incremental_saves", _l("Incremental saves"), "number"),
    Column("quality_score", _l("Quality score"), "number"),
    Column("questionnaire_completion", _l("Questionnaire completion"), "percent"),
    Column("complaints", _l("Complaints received"), "int"),
    Column("target_attainment", _l("Target attainment"), "percent"),
)
HISTORY_COLUMNS = (
    Column("month", _l("Month")),
    Column("state", _l("State")),
    Column("rank", _l("Rank"), "int"),
    Column("score", _l("Score"), "number"),
    Column("contacts", _l("Contacts"), "int"),
    Column("connect_rate", _l("Connect rate"), "percent"),
    Column("retention_success_rate", _l("Retention success rate"), "percent"),
    Column("incremental_saves", _l("Incremental saves"), "number"),
    Column("quality_score", _l("Quality score"), "number"),
    Column("complaints", _l("Complaints received"), "int"),
)


def parse_month(value: str | None, tz: Any) -> date:
    """``YYYY-MM`` as the month's first day; this month when empty."""
    if not value:
        return datetime.now(tz).date().replace(day=1)
    try:
        return date.fromisoformat(f"{value}-01")
    except ValueError as exc:
        raise InvalidRequestError(_("Use a month like 2026-10."), field="month") from exc


def month_options(db: Any, tz: Any) -> list[date]:
    """This month, the months before it and every closed month, newest first."""
    now = datetime.now(tz).date().replace(day=1)
    recent = {add_months(now, -n) for n in range(RECENT_MONTHS)}
    return sorted(recent | set(service.closed_months(db)), reverse=True)


def _names(db: Any, level: str, ids: set[int]) -> dict[int, str]:
    """Subjects' names in the reader's language (branches have two)."""
    if level == "branch":
        return branch_names(db, ids, english=current_language() == "en")
    if level == "team":
        return team_names(db, ids)
    return display_names(db, ids)


def card_row(card: service.Card, month: date, name: str | None = None) -> dict[str, Any]:
    """A card as a table row."""
    f = card.figures
    return {
        "id": card.subject_id,
        "level": card.level,
        "month": month.strftime("%Y-%m"),
        "rank": card.rank,
        "name": name or card.name,
        "score": card.score,
        **{key: f.get(key) for key in (c.key for c in CARD_COLUMNS[3:])},
    }


@router.get("/appraisal/scorecards")
def scorecards(
    request: Request,
    actor: PageActor,
    db: Db,
    tz: LocalTz,
    month: str | None = None,
    level: str = "agent",
    subject: int | None = None,
) -> Response:
    """A level's ranking of a month, a subject's history and the export of both."""
    actor.require(*service.READERS)
    if level not in LEVELS:
        raise InvalidRequestError(_("Choose agents, teams or branches."), field="level")
    chosen = parse_month(month, tz)
    cards, closed = service.scorecards(db, actor, chosen, level, tz)
    names = _names(db, level, {c.subject_id for c in cards})
    rows = [card_row(c, chosen, names.get(c.subject_id)) for c in cards]
    ranking = Table(
        f"scorecards-{level}",
        CARD_COLUMNS,
        rows,
        title=_(
            "Scorecards of %(month)s, %(level)s", month=f"{chosen:%Y-%m}", level=LEVEL_LABELS[level]
        ),
        empty=_("No scorecards in your scope for this month."),
    )
    if subject is None and cards:
        mine = [c for c in cards if c.subject_id == actor.user_id] if level == "agent" else []
        subject = (mine or cards)[0].subject_id
    tables = [ranking]
    history_table = None
    chart = None
    subject_name = None
    if subject is not None:
        entries = service.history(db, actor, level, subject, tz)
        subject_name = _names(db, level, {subject}).get(subject, entries[-1][1].name)
        history_rows = [
            {
                **card_row(card, m),
                "month": f"{m:%Y-%m}",
                "state": _("closed") if stored else _("live"),
            }
            for m, card, stored in entries
        ]
        history_table = Table(
            "scorecard-history",
            HISTORY_COLUMNS,
            history_rows,
            title=_("History of %(name)s", name=subject_name),
            empty=_("No scorecards yet."),
        )
        tables.append(history_table)
        chart = line_chart(
            [r["month"] for r in history_rows],
            [(str(_("Score")), [r["score"] for r in history_rows])],
            percent=False,
        )
    if wants_export(request):
        return export_tables(request, actor, db, tables, f"scorecards-{chosen:%Y-%m}-{level}", tz)
    return render(
        request,
        "appraisal/scorecards.html",
        {
            "month": chosen,
            "months": month_options(db, tz),
            "level": level,
            "levels": {"agent": LEVEL_LABELS["agent"]}
            if actor.scope is Scope.OWN
            else LEVEL_LABELS,
            "closed": closed,
            "ranking": ranking,
            "history": history_table,
            "history_chart": chart,
            "subject_name": subject_name,
        },
    )


def _scheme_tables(db: Any) -> list[Table]:
    current = appraisal_scheme.current_scheme(db)
    names = {
        level: _names(db, level, {t.subject_id for t in current.targets if t.level == level})
        for level in LEVELS
    }
    target_rows = [
        {
            "level": LEVEL_LABELS[t.level],
            "name": names[t.level].get(t.subject_id, str(t.subject_id)),
            "month": t.month or _("every month"),
            "assigned": t.values.get("assigned"),
            "contacts": t.values.get("contacts"),
            "saves": t.values.get("saves"),
        }
        for t in current.targets
    ]
    return [
        Table(
            "appraisal-targets",
            (
                Column("level", _l("Level")),
                Column("name", _l("Name")),
                Column("month", _l("Month")),
                Column("assigned", _l("Assigned subscribers done"), "int"),
                Column("contacts", _l("Contacts"), "int"),
                Column("saves", _l("Saves"), "int"),
            ),
            target_rows,
            title=_("Monthly targets"),
            empty=_("No targets set."),
            export=False,
        ),
        Table(
            "appraisal-weights",
            (Column("metric", _l("Figure")), Column("weight", _l("Weight"), "number")),
            [{"metric": weight_label(k), "weight": v} for k, v in current.weights.items()],
            title=_("Scorecard weights"),
            export=False,
        ),
        Table(
            "appraisal-standards",
            (Column("role", _l("Role")), Column("standard", _l("Contacts a day"), "int")),
            [{"role": label(ROLES, role), "standard": v} for role, v in current.standards.items()],
            title=_("Daily contact standard"),
            export=False,
        ),
    ]


def weight_label(metric: str) -> str:
    """The reader's name of a weighted figure."""
    labels: dict[str, Any] = {
        "contacts": _l("Contacts against the standard"),
        "connect_rate": _l("Connect rate"),
        "retention_success_rate": _l("Retention success rate"),
        "incremental_saves": _l("Incremental saves"),
        "quality_score": _l("Quality score"),
        "questionnaire_completion": _l("Questionnaire completion"),
        "complaints": _l("Complaints received"),
        "target_attainment": _l("Target attainment"),
    }
    return str(labels.get(metric, metric))


def _targets_page(
    request: Request,
    actor: Any,
    db: Any,
    text: str,
    problems: list[appraisal_scheme.Problem] | None = None,
    saved: bool = False,
    more: int = 0,
) -> Response:
    shown = [
        appraisal_scheme.Problem(p.entry, p.field, translated(p.message)) for p in problems or []
    ]
    return render(
        request,
        "appraisal/targets.html",
        {
            "text": text,
            "problems": shown,
            "more_problems": more_problems(more) if more else "",
            "saved": saved,
            "editable": actor.role in appraisal_scheme.SCHEME_WRITERS,
            "tables": _scheme_tables(db),
        },
        status_code=422 if problems else 200,
    )


@router.get("/appraisal/targets")
def targets(request: Request, actor: PageActor, db: Db, saved: int = 0) -> Response:
    """The scheme in effect and, for those who may change them, the YAML editor."""
    actor.require(*appraisal_scheme.SCHEME_READERS)
    return _targets_page(request, actor, db, appraisal_scheme.current_text(db), saved=bool(saved))


@router.post("/appraisal/targets")
def save_targets(request: Request, actor: PageActor, db: Db, form: PageForm) -> Response:
    """Save the edited YAML (the API's validation); the messages, entry by entry, otherwise."""
    actor.require(*appraisal_scheme.SCHEME_WRITERS)
    text = str(form.get("text") or "")
    try:
        appraisal_scheme.save_scheme(db, actor, text)
    except appraisal_scheme.SchemeError as exc:
        db.rollback()
        return _targets_page(request, actor, db, text, problems=exc.problems, more=exc.more)
    return RedirectResponse("/appraisal/targets?saved=1", status_code=303)
