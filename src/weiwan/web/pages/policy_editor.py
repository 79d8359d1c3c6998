"""The policy form (/settings/policies/new, /settings/policies/{id}/edit): one retention policy
with labelled fields in the reader's language, checked on save with the run's rules and saved
into the library's pending edit; a policy retired with one button. Administrators (roles that
may configure); the raw YAML editor stays on /settings/policies for import and export."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from weiwan.core.contact_rules import CHANNELS
from weiwan.core.errors import InvalidRequestError
from weiwan.core.policy_rules import APPROVALS, COST_KINDS, OFFER_TYPES, OPEN
from weiwan.ops.org import entry_edit
from weiwan.ops.org.access import Actor
from weiwan.ops.org.policy_check import EditRefusedError, target_groups
from weiwan.web.errors import error_text
from weiwan.web.i18n import current_language
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.labels import CHANNELS as CHANNEL_WORDS
from weiwan.web.labels import OFFER_TYPES as OFFER_WORDS
from weiwan.web.pages.business_rules_tables import APPROVALS as APPROVAL_WORDS
from weiwan.web.pages.deps import Db, PageActor, PageForm
from weiwan.web.policy_words import FIELDS, issue_row
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)

COST_WORDS: dict[str, Any] = {
    "one_off": _l("One-off"),
    "monthly": _l("Monthly"),
    "device_subsidy": _l("Device subsidy"),
}
#: form field → the entry's path; numbers parsed, blanks left out
_TEXTS = ("id", "name_zh", "name_en", "description", "script_zh", "script_en")
_NUMBERS = {
    "min_spend": ("min_spend",),
    "limit_times": ("limit", "times"),
    "limit_per_months": ("limit", "per_months"),
    "cost_amount": ("cost", "amount"),
    "cost_months": ("cost", "months"),
    "benefit_value": ("benefit_value",),
    "prepay": ("prepay",),
    "commitment_months": ("commitment_months",),
    "budget_count": ("budget", "count"),
    "budget_money": ("budget", "money"),
    "budget_per_months": ("budget", "per_months"),
}
_WHOLE = {"limit_times", "limit_per_months", "cost_months", "commitment_months", "budget_count",
          "budget_per_months"}  # fmt: skip


def _number(value: str, whole: bool) -> Any:
    """A typed number, or the text itself (the rules then say "give a number")."""
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if whole and number.is_integer() else number


def _put(entry: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        entry = entry.setdefault(key, {})
    entry[path[-1]] = value


def entry_from_form(form: FormData, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The policy entry the form describes, on top of ``base`` (the entry edited: what the form
    does not show, such as an inline target filter, is kept)."""
    entry: dict[str, Any] = {
        k: v for k, v in (base or {}).items() if k not in ("limit", "cost", "budget")
    }
    for key in _TEXTS:
        value = str(form.get(key) or "").strip()
        if value or key in entry:
            entry[key] = value
    for key in ("offer_type", "approval"):
        if form.get(key):
            entry[key] = str(form.get(key))
    group = str(form.get("target_group") or "")
    if group:
        entry["target_group"] = group
        entry.pop("target", None)
    elif "target" not in entry:
        entry.pop("target_group", None)
    for key in ("valid_from", "review_by"):
        value = str(form.get(key) or "")
        if value:
            entry[key] = value
        else:
            entry.pop(key, None)
    entry["valid_to"] = OPEN if form.get("open_ended") else str(form.get("valid_to") or "") or None
    if entry["valid_to"] is None:
        entry.pop("valid_to")
    entry["cost"] = {"kind": str(form.get("cost_kind") or "one_off")}
    for name, path in _NUMBERS.items():
        value = str(form.get(name) or "").strip()
        if value:
            _put(entry, path, _number(value, name in _WHOLE))
        elif len(path) == 1:
            entry.pop(path[0], None)
    entry["channels"] = [c for c in form.getlist("channels") if isinstance(c, str)]
    excluded = [p for p in form.getlist("exclusive_with") if isinstance(p, str) and p]
    if excluded:
        entry["exclusive_with"] = excluded
    else:
        entry.pop("exclusive_with", None)
    return entry


def _values(entry: dict[str, Any]) -> dict[str, Any]:
    """The form's fields from an entry (what the inputs show)."""
    values: dict[str, Any] = {k: entry.get(k, "") for k in _TEXTS}
    for name, path in _NUMBERS.items():
        node: Any = entry
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        values[name] = "" if node is None else node
    valid_to = entry.get("valid_to")
    values |= {
        "offer_type": entry.get("offer_type", OFFER_TYPES[0]),
        "approval": entry.get("approval", "draft"),
        "target_group": entry.get("target_group", ""),
        "has_target_filter": "target" in entry,
        "valid_from": str(entry.get("valid_from") or ""),
        "valid_to": "" if valid_to in (None, OPEN) else str(valid_to),
        "open_ended": valid_to == OPEN,
        "review_by": str(entry.get("review_by") or ""),
        "cost_kind": (entry.get("cost") or {}).get("kind", "one_off"),
        "channels": list(entry.get("channels") or []),
        "exclusive_with": list(entry.get("exclusive_with") or []),
    }
    return values


def _form_page(
    request: Request,
    actor: Actor,
    db: Any,
    *,
    entry: dict[str, Any],
    editing: str | None,
    problems: list[dict[str, str]] | None = None,
    error: str | None = None,
    status_code: int = 200,
    typed: FormData | None = None,
) -> Response:
    english = current_language() == "en"
    values = _values(entry)
    if typed is not None:  # a refused form shows what was typed, as typed
        values |= {k: str(typed.get(k) or "") for k in (*_TEXTS, *_NUMBERS) if k in typed}
    groups = [(g["id"], g["name_en"] if english else g["name_zh"]) for g in target_groups(db)]
    try:
        others = [
            (str(e["id"]), str(e.get("name_en" if english else "name_zh") or e["id"]))
            for e in entry_edit.document_entries(db, actor)
            if isinstance(e, dict) and e.get("id") and e.get("id") != editing
        ]
    except InvalidRequestError:
        others = []
    by_field: dict[str, list[str]] = {}
    for problem in problems or []:
        by_field.setdefault(problem["key"], []).append(problem["message"])
    return render(
        request,
        "business_rules/policy_form.html",
        {
            "values": values,
            "editing": editing,
            "problems": problems or [],
            "by_field": by_field,
            "error": error,
            "offer_types": [(code, OFFER_WORDS.get(code, code)) for code in OFFER_TYPES],
            "approvals": [(code, APPROVAL_WORDS.get(code, code)) for code in APPROVALS],
            "cost_kinds": [(code, COST_WORDS.get(code, code)) for code in COST_KINDS],
            "channels": [(code, CHANNEL_WORDS.get(code, code)) for code in CHANNELS],
            "groups": groups,
            "others": others,
            "labels": FIELDS,
        },
        status_code=status_code,
    )


#: the rules' field path → the form's input it is shown under
_FORM_KEYS = {".".join(path): name for name, path in _NUMBERS.items()} | {
    "cost.kind": "cost_kind",
    "target": "target_group",
    "limit": "limit_times",
    "cost": "cost_amount",
    "budget": "budget_count",
}


def _problem(issue: Any) -> dict[str, str]:
    row = issue_row(issue)
    return {**row, "key": _FORM_KEYS.get(issue.field, issue.field)}


@router.get("/settings/policies/new", response_class=HTMLResponse)
def new_policy(request: Request, actor: PageActor, db: Db) -> Response:
    """An empty policy form (administrators)."""
    actor.require_configure()
    today = date.today().isoformat()
    entry = {"valid_from": today, "limit": {"times": 1, "per_months": 12}, "channels": []}
    return _form_page(request, actor, db, entry=entry, editing=None)


@router.get("/settings/policies/{policy_id}/edit", response_class=HTMLResponse)
def edit_policy(request: Request, policy_id: str, actor: PageActor, db: Db) -> Response:
    """The form of one policy of the library (the pending edit's, else the one in effect)."""
    actor.require_configure()
    entry = entry_edit.entry_of(db, actor, policy_id)
    return _form_page(request, actor, db, entry=entry, editing=policy_id)


@router.post("/settings/policies/form", response_class=HTMLResponse)
def save_policy_form(request: Request, actor: PageActor, db: Db, form: PageForm) -> Response:
    """Check the policy with the run's rules and save the library as the pending edit; the
    form again with each problem under its field (422) when the rules say no."""
    actor.require_configure()
    editing = str(form.get("editing") or "") or None
    base = entry_edit.entry_of(db, actor, editing) if editing else None
    entry = entry_from_form(form, base)
    try:
        entry_edit.save_entry(db, actor, entry, replaces=editing)
    except EditRefusedError as exc:
        db.rollback()
        own = entry.get("id") or editing
        problems = [_problem(i) for i in exc.issues if i.policy_id in (own, "#0", None)]
        others = [issue_row(i) for i in exc.issues if i.policy_id not in (own, "#0", None)]
        error = (
            _("The rules refuse this policy.")
            if problems
            else _(
                "The rules refuse the library with this policy: %(what)s",
                what="; ".join(f"{o['item']} · {o['field']}: {o['message']}" for o in others[:3]),
            )
        )
        return _form_page(
            request, actor, db, entry=entry, editing=editing, problems=problems, error=error,
            status_code=422, typed=form,
        )  # fmt: skip
    except InvalidRequestError as exc:
        db.rollback()
        return _form_page(
            request, actor, db, entry=entry, editing=editing, error=error_text(exc),
            status_code=422, typed=form,
        )  # fmt: skip
    return RedirectResponse("/settings/policies?saved=policies#editor-policies", status_code=303)


@router.post("/settings/policies/{policy_id}/retire", response_class=HTMLResponse)
def retire_policy(request: Request, policy_id: str, actor: PageActor, db: Db) -> Response:
    """Retire a policy (kept in the library, no longer offered) from the next run on."""
    actor.require_configure()
    entry_edit.retire_policy(db, actor, policy_id)
    return RedirectResponse("/settings/policies?saved=policies#editor-policies", status_code=303)
