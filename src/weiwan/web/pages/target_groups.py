"""The saved target groups (/settings/target-groups): the groups in effect with their
conditions in words, a form to add, change or delete a group with the same builder as the
campaign targets (value pickers, live count), and the YAML editor for import and export.
Analysts and administrators edit (``may_define_targets``); centre heads and the director read.
An edit is checked with the run's rules when it is saved and takes effect at the next run."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from weiwan.core.errors import InvalidRequestError
from weiwan.ops.customers.tags import tag_labels
from weiwan.ops.org import config, entry_edit
from weiwan.ops.org.access import Actor
from weiwan.ops.org.policy_check import EditRefusedError
from weiwan.web.errors import error_text
from weiwan.web.i18n import current_language
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.pages import campaign_forms as forms
from weiwan.web.pages.business_rules_tables import editor_context, rules_of, saved_flash
from weiwan.web.pages.campaign_lists import form_choices
from weiwan.web.pages.deps import Db, PageActor, PageForm
from weiwan.web.policy_words import issue_row
from weiwan.web.tables import Column, Table
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)
KIND = "target_groups"


def _group_table(groups: list[dict[str, Any]]) -> Table:
    english = current_language() == "en"
    rows = [
        {
            "id": group["id"],
            "name": group.get("name_en" if english else "name_zh"),
            "description": group.get("description" if english else "description_zh") or "—",
        }
        for group in groups
    ]
    return Table(
        "target-groups",
        [
            Column("id", _l("Group id"), "code"),
            Column("name", _l("Name")),
            Column("description", _l("Description")),
        ],
        rows,
        title=_l("Target groups in effect"),
        empty=_l("No target groups published yet."),
    )


@router.get("/settings/target-groups", response_class=HTMLResponse)
def target_groups_page(request: Request, actor: PageActor, db: Db) -> Response:
    """The groups in effect, their validation messages and, for analysts and administrators,
    the form and the YAML editor."""
    return render_page(request, actor, db)


def render_page(
    request: Request, actor: Actor, db: Any, draft: str | None = None, **extra: Any
) -> Response:
    """The target-groups page (also after a refused YAML edit: ``draft``, ``problems``)."""
    status = int(extra.pop("status_code", 200))
    view = config.rule_document_view(db, actor, KIND)
    groups = [g for g in rules_of(view.in_effect, "groups") if g.get("id")]
    context = {
        "table": _group_table(groups),
        "groups": groups,
        "editors": [editor_context(view, draft)],
        "may_edit": actor.permissions.may_define_targets,
        **saved_flash(request),
        **extra,
    }
    return render(request, "business_rules/target_groups.html", context, status_code=status)


def _form(
    request: Request,
    actor: Actor,
    db: Any,
    entry: dict[str, Any],
    editing: str | None,
    **extra: Any,
) -> Response:
    raw = entry.get("filter") or {}
    combine, rows, filter_json = (
        forms.rows_of_filter(raw, tag_labels(db)) if raw else ("all", [forms.FilterRow()], "")
    )
    if any(r.field and r.field not in forms.FILTER_FIELDS for r in rows):
        # a condition on a profile column the builder does not offer: edited as JSON
        rows, filter_json = [forms.FilterRow()], json.dumps(raw, ensure_ascii=False, indent=1)
    builder = forms.PlanForm(combine=combine, rows=rows, filter_json=filter_json)
    status = int(extra.pop("status_code", 200))
    context = {
        "group": entry,
        "editing": editing,
        "builder": builder,
        **form_choices(db, actor),
        **extra,
    }
    return render(request, "business_rules/target_group_form.html", context, status_code=status)


@router.get("/settings/target-groups/new", response_class=HTMLResponse)
def new_group(request: Request, actor: PageActor, db: Db) -> Response:
    """An empty group form (analysts and administrators)."""
    actor.require_define_targets()
    return _form(request, actor, db, {}, None)


@router.get("/settings/target-groups/{group_id}/edit", response_class=HTMLResponse)
def edit_group(request: Request, group_id: str, actor: PageActor, db: Db) -> Response:
    """The form of one saved group."""
    actor.require_define_targets()
    return _form(request, actor, db, entry_edit.entry_of(db, actor, group_id, KIND), group_id)


@router.post("/settings/target-groups/form", response_class=HTMLResponse)
def save_group(request: Request, actor: PageActor, db: Db, form: PageForm) -> Response:
    """Check the group with the run's rules and save the groups as the pending edit; the form
    again with the problems (422) when the rules say no."""
    actor.require_define_targets()
    editing = str(form.get("editing") or "") or None
    entry: dict[str, Any] = {
        key: str(form.get(key) or "").strip()
        for key in ("id", "name_zh", "name_en", "description", "description_zh")
    }
    if editing:
        entry["id"] = editing
    try:
        combine, rows, filter_json = forms.filter_rows_of_form(form)
        entry["filter"] = forms.build_filter(combine, rows, filter_json, tag_labels(db))
        entry_edit.save_entry(db, actor, entry, replaces=editing, kind=KIND)
    except EditRefusedError as exc:
        db.rollback()
        problems = [issue_row(i) for i in exc.issues]
        return _form(request, actor, db, entry, editing, problems=problems, status_code=422,
                     error=_("The rules refuse this target group."))  # fmt: skip
    except InvalidRequestError as exc:
        db.rollback()
        return _form(request, actor, db, entry, editing, error=error_text(exc), status_code=422)
    return RedirectResponse("/settings/target-groups?saved=1", status_code=303)


@router.post("/settings/target-groups/{group_id}/delete", response_class=HTMLResponse)
def delete_group(request: Request, group_id: str, actor: PageActor, db: Db) -> Response:
    """Remove a saved group from the next run on (a policy still naming it is refused)."""
    actor.require_define_targets()
    try:
        entry_edit.save_entry(db, actor, None, replaces=group_id, kind=KIND)
    except EditRefusedError as exc:
        db.rollback()
        problems = [issue_row(i) for i in exc.issues]
        return render_page(request, actor, db, problems=problems, status_code=422)
    return RedirectResponse("/settings/target-groups?saved=1", status_code=303)
