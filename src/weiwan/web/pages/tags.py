"""The tag library (/settings/tags): the tags the last run computed (shipped or edited), and
for analysts and administrators a form for a flag tag — its names, category and condition in
the expression language — that adds a tag or changes a shipped one by its id, checked on save
with the run's rules; band tags and bulk edits through the YAML editor. Edits take effect at the
next daily run, which computes, publishes and names the tags everywhere."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from weiwan.core.errors import InvalidRequestError, NotFoundError
from weiwan.core.tag_rules import CATEGORIES
from weiwan.ops.customers.tags import tag_library
from weiwan.ops.org import config, entry_edit
from weiwan.ops.org.access import Actor
from weiwan.ops.org.policy_check import EditRefusedError
from weiwan.web.errors import error_text
from weiwan.web.i18n import current_language
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.labels import label
from weiwan.web.pages.business_rules_tables import editor_context, saved_flash
from weiwan.web.pages.deps import Db, PageActor, PageForm
from weiwan.web.policy_words import issue_row
from weiwan.web.tables import Column, Table
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)
KIND = "tags"
CATEGORY_WORDS: dict[str, Any] = {
    "basic": _l("Basic attributes"),
    "behaviour": _l("Behaviour"),
    "preference": _l("Preferences"),
    "value": _l("Customer value"),
    "risk": _l("Risk signals"),
}


def _table(tags: list[dict[str, Any]]) -> Table:
    english = current_language() == "en"
    rows = [
        {
            "id": t["id"],
            "name": t.get("name_en" if english else "name_zh"),
            "category": label(CATEGORY_WORDS, str(t.get("category"))),
            "kind": _("Bands") if t.get("band") else _("Condition"),
            "expression": t.get("expression") or "",
            "source": _("Edited") if t.get("edited") else _("Shipped"),
        }
        for t in tags
    ]
    return Table(
        "tags",
        [
            Column("id", _l("Tag id"), "code"),
            Column("name", _l("Name")),
            Column("category", _l("Category")),
            Column("kind", _l("Kind")),
            Column("expression", _l("Condition"), "code"),
            Column("source", _l("Source")),
        ],
        rows,
        title=_l("Tags in effect"),
        empty=_l("No tags published yet."),
    )


def render_page(
    request: Request, actor: Actor, db: Any, draft: str | None = None, **extra: Any
) -> Response:
    """The tags page (also after a refused YAML edit: ``draft``, ``problems``)."""
    status = int(extra.pop("status_code", 200))
    view = config.rule_document_view(db, actor, KIND)
    tags = tag_library(db)
    context = {
        "table": _table(tags),
        "tags": [t for t in tags if not t.get("band")],
        "editors": [editor_context(view, draft)],
        "may_edit": actor.permissions.may_define_targets,
        **saved_flash(request),
        **extra,
    }
    return render(request, "business_rules/tags.html", context, status_code=status)


@router.get("/settings/tags", response_class=HTMLResponse)
def tags_page(request: Request, actor: PageActor, db: Db) -> Response:
    """The tag library in effect; the form and the YAML editor for analysts and admins."""
    return render_page(request, actor, db)


def _form(request: Request, actor: Actor, db: Any, tag: dict[str, Any], **extra: Any) -> Response:
    status = int(extra.pop("status_code", 200))
    context = {
        "tag": tag,
        "categories": [(c, label(CATEGORY_WORDS, c)) for c in CATEGORIES],
        **extra,
    }
    return render(request, "business_rules/tag_form.html", context, status_code=status)


@router.get("/settings/tags/new", response_class=HTMLResponse)
def new_tag(request: Request, actor: PageActor, db: Db) -> Response:
    """An empty tag form; ``?id=`` starts from a tag in effect (to change a shipped tag)."""
    actor.require_define_targets()
    wanted = request.query_params.get("id")
    if not wanted:
        return _form(request, actor, db, {"category": "risk"})
    found = next((t for t in tag_library(db) if t["id"] == wanted and not t.get("band")), None)
    if found is None:
        raise NotFoundError(f"tag {wanted} not found")
    return _form(request, actor, db, dict(found))


@router.post("/settings/tags/form", response_class=HTMLResponse)
def save_tag(request: Request, actor: PageActor, db: Db, form: PageForm) -> Response:
    """Check the tag with the run's rules and put it into the editor's tags (replacing an
    edited tag of the same id); the form again with the problems (422) when refused."""
    actor.require_define_targets()
    tag: dict[str, Any] = {
        key: str(form.get(key) or "").strip()
        for key in ("id", "name_zh", "name_en", "category", "expression", "description")
    }
    if not tag["description"]:
        tag.pop("description")
    tag["version"] = 1
    try:
        entry_edit.save_entry(db, actor, tag, replaces=tag["id"], kind=KIND, add_if_missing=True)
    except EditRefusedError as exc:
        db.rollback()
        problems = [issue_row(i) for i in exc.issues]
        return _form(request, actor, db, tag, problems=problems, status_code=422,
                     error=_("The rules refuse this tag."))  # fmt: skip
    except InvalidRequestError as exc:
        db.rollback()
        return _form(request, actor, db, tag, error=error_text(exc), status_code=422)
    return RedirectResponse("/settings/tags?saved=1", status_code=303)
