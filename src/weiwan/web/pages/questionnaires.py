"""The questionnaire builder (/surveys): list, build with single/multiple/open questions,
clone, archive (``ops.surveys.library``), and the results of each questionnaire
(``ops.surveys.results``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from weiwan.ops.org.access import Actor
from weiwan.ops.org.roles import Role
from weiwan.ops.surveys.library import (
    BUILDERS,
    archive_questionnaire,
    clone_questionnaire,
    create_questionnaire,
    get_questionnaire,
    list_questionnaires,
    questionnaire_out,
)
from weiwan.ops.surveys.results import RESULT_VIEWERS
from weiwan.ops.surveys.results import results as questionnaire_results
from weiwan.ops.surveys.schemas import QuestionnaireIn, QuestionnaireOut
from weiwan.ops.types import IdPath
from weiwan.web.i18n import current_language
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.pages.deps import Db, LocalTz, PageActor, PageForm, export_tables
from weiwan.web.tables import Column, Table, wants_export
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)

#: who opens the builder: the roles of the settings menu and the shift lead (a builder)
READERS = (Role.ADMIN, Role.CENTRE_HEAD, Role.DIRECTOR, Role.ANALYST, Role.SHIFT_LEAD)
STATUSES: dict[str, Any] = {"active": _l("Active"), "archived": _l("Archived")}
KINDS: dict[str, Any] = {
    "single": _l("Single choice"),
    "multiple": _l("Multiple choice"),
    "open": _l("Open question"),
}
BLANK_QUESTIONS = 3
MAX_FORM_QUESTIONS = 30


def _title(row: Any) -> str:
    if current_language() == "zh-CN" or not row.title_en:
        return str(row.title_zh)
    return str(row.title_en)


def _is_builder(actor: Actor) -> bool:
    return actor.role in BUILDERS


def _options(text: str) -> list[dict[str, Any]]:
    """One option a line, "中文 / English" (English optional); values o1, o2, …"""
    options = []
    for number, line in enumerate((ln.strip() for ln in text.splitlines() if ln.strip()), 1):
        zh, _sep, en = line.partition(" / ")
        options.append(
            {"value": f"o{number}", "label_zh": zh.strip(), "label_en": en.strip() or None}
        )
    return options


def questionnaire_from_form(fields: dict[str, str]) -> QuestionnaireIn:
    """The questionnaire a builder form describes; blank question blocks are skipped."""
    questions = []
    for i in range(1, MAX_FORM_QUESTIONS + 1):
        text_zh = fields.get(f"q{i}_text_zh", "").strip()
        if not text_zh:
            continue
        kind = fields.get(f"q{i}_kind", "single")
        questions.append(
            {
                "kind": kind,
                "text_zh": text_zh,
                "text_en": fields.get(f"q{i}_text_en", "").strip() or None,
                "required": fields.get(f"q{i}_required") == "1",
                "options": [] if kind == "open" else _options(fields.get(f"q{i}_options", "")),
            }
        )
    return QuestionnaireIn.model_validate(
        {
            "title_zh": fields.get("title_zh", "").strip(),
            "title_en": fields.get("title_en", "").strip() or None,
            "description": fields.get("description", "").strip() or None,
            "questions": questions,
        }
    )


def _problem(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = list(err["loc"])
        if len(loc) >= 2 and loc[0] == "questions" and isinstance(loc[1], int):
            where = _("question %(num)s", num=loc[1] + 1)
            rest = ".".join(str(p) for p in loc[2:])
            where = f"{where} {rest}".strip()
        else:
            where = ".".join(str(p) for p in loc)
        message = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def _list_page(
    request: Request, actor: Actor, db: Any, tz: Any, *, status_code: int = 200, **extra: Any
) -> Response:
    actor.require(*READERS)
    status = request.query_params.get("status", "active")
    status = status if status in ("active", "archived", "all") else "active"
    rows = list_questionnaires(db, None if status == "all" else status, limit=500)
    table = Table(
        "questionnaires",
        [
            Column("title", _("Questionnaire"), "link", href=lambda row: f"/surveys/{row['id']}"),
            Column("status", _("Status")),
            Column("cloned_from", _("Cloned from")),
            Column("created_at", _("Created"), "datetime"),
            Column("updated_at", _("Changed"), "datetime"),
        ],
        [
            {
                "id": q.id,
                "title": _title(q),
                "status": str(STATUSES.get(q.status, q.status)),
                "cloned_from": f"#{q.cloned_from_id}" if q.cloned_from_id else "—",
                "created_at": q.created_at,
                "updated_at": q.updated_at,
            }
            for q in rows
        ],
        title=_("Questionnaires"),
        empty=_("No questionnaires."),
    )
    if wants_export(request):
        return export_tables(request, actor, db, [table], "questionnaires", tz)
    try:
        blanks = int(request.query_params.get("questions", BLANK_QUESTIONS))
    except ValueError:
        blanks = BLANK_QUESTIONS
    context = {
        "table": table,
        "status": status,
        "may_build": _is_builder(actor),
        "kinds": list(KINDS.items()),
        "blanks": max(1, min(blanks, MAX_FORM_QUESTIONS)),
        "form": {},
        **extra,
    }
    return render(request, "surveys/index.html", context, status_code=status_code)


@router.get("/surveys", response_class=HTMLResponse)
def questionnaires(request: Request, actor: PageActor, db: Db, tz: LocalTz) -> Response:
    """Questionnaires (active, archived or all) and the builder form for builders."""
    return _list_page(request, actor, db, tz)


@router.post("/surveys", response_class=HTMLResponse)
def create(request: Request, actor: PageActor, db: Db, tz: LocalTz, form: PageForm) -> Response:
    """Build a questionnaire (centre head, director, shift lead); a refused form is shown
    again with the reason and the entries kept."""
    actor.require(*BUILDERS)
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    try:
        data = questionnaire_from_form(fields)
        questionnaire = create_questionnaire(db, actor, data)
    except ValidationError as exc:
        db.rollback()
        count = sum(1 for k in fields if k.endswith("_text_zh"))
        return _list_page(
            request,
            actor,
            db,
            tz,
            status_code=422,
            error=_problem(exc),
            form=fields,
            blanks_posted=count,
        )
    return RedirectResponse(f"/surveys/{questionnaire.id}?saved=1", status_code=303)


def _result_tables(detail: QuestionnaireOut, results: Any) -> list[Table]:
    zh = current_language() == "zh-CN"
    tables = []
    for question in results.questions:
        text = question.text_zh if zh or not question.text_en else question.text_en
        title = f"{question.position}. {text}"
        if question.kind == "open":
            rows = [{"answered_at": a.answered_at, "text": a.text} for a in question.open_answers]
            columns = [
                Column("answered_at", _("Answered"), "datetime"),
                Column("text", _("Answer")),
            ]
        else:
            rows = [
                {
                    "option": o.label_zh if zh or not o.label_en else o.label_en,
                    "count": o.count,
                    "share": o.share,
                }
                for o in question.options
            ]
            columns = [
                Column("option", _("Option")),
                Column("count", _("Answers"), "int"),
                Column("share", _("Share of those answering"), "percent"),
            ]
        tables.append(
            Table(
                f"q{question.position}",
                columns,
                rows,
                title=title,
                empty=_("No answers yet."),
                extra={"answered": question.answered, "kind": question.kind},
            )
        )
    return tables


@router.get("/surveys/{questionnaire_id}", response_class=HTMLResponse)
def questionnaire(
    request: Request, actor: PageActor, db: Db, tz: LocalTz, questionnaire_id: IdPath
) -> Response:
    """One questionnaire: its questions, clone/archive for builders, and the results summary
    over the answers the actor may see."""
    actor.require(*READERS)
    detail = questionnaire_out(db, get_questionnaire(db, questionnaire_id))
    results = None
    tables: list[Table] = []
    if actor.role in RESULT_VIEWERS:
        results = questionnaire_results(db, actor, questionnaire_id)
        tables = _result_tables(detail, results)
    if wants_export(request):
        return export_tables(request, actor, db, tables, f"questionnaire_{questionnaire_id}", tz)
    context: dict[str, Any] = {
        "q": detail,
        "title": _title(detail),
        "results": results,
        "tables": tables,
        "may_build": _is_builder(actor),
        "kinds": KINDS,
        "statuses": STATUSES,
    }
    if request.query_params.get("saved"):
        context["flash"] = _("Saved.")
    return render(request, "surveys/detail.html", context)


@router.post("/surveys/{questionnaire_id}/clone", response_class=HTMLResponse)
def clone(request: Request, actor: PageActor, db: Db, questionnaire_id: IdPath) -> Response:
    """A new active questionnaire with the same questions (builders)."""
    copy = clone_questionnaire(db, actor, questionnaire_id)
    return RedirectResponse(f"/surveys/{copy.id}?saved=1", status_code=303)


@router.post("/surveys/{questionnaire_id}/archive", response_class=HTMLResponse)
def archive(request: Request, actor: PageActor, db: Db, questionnaire_id: IdPath) -> Response:
    """Archive: no new answers, results kept (builders)."""
    archive_questionnaire(db, actor, questionnaire_id)
    return RedirectResponse(f"/surveys/{questionnaire_id}?saved=1", status_code=303)
