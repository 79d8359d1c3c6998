"""Business-rule pages (under /settings/): the policy library, alert and care rules, the
contact policy. The questionnaire builder is in ``questionnaires``.

Administrators (``may_configure``) edit the YAML of each document; an edit is saved as pending
and takes effect at the next daily run, which validates it and publishes the messages back
(:mod:`weiwan.ops.org.config`). Centre heads, directors and analysts read the pages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from weiwan.core.errors import InvalidRequestError
from weiwan.ops.contacts.rules import current_rules
from weiwan.ops.offers.service import latest_limit_prices, list_policies
from weiwan.ops.org import config
from weiwan.ops.org.access import Actor
from weiwan.ops.org.policy_check import EditRefusedError
from weiwan.web.errors import error_text
from weiwan.web.i18n import gettext as _
from weiwan.web.pages import strategies, tags, target_groups
from weiwan.web.pages.business_rules_tables import (
    channel_table,
    editor_context,
    general_table,
    message_table,
    policy_table,
    rule_table,
    rules_of,
)
from weiwan.web.pages.deps import Db, LocalTz, PageActor, export_tables
from weiwan.web.policy_words import issue_row
from weiwan.web.tables import Table, wants_export
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)

#: the page of each rule-document kind
PAGES: dict[str, str] = {
    "policies": "/settings/policies",
    "alerts": "/settings/rules",
    "care": "/settings/rules",
    "anomalies": "/settings/rules",
    "contact_policy": "/settings/contact-policy",
    "target_groups": "/settings/target-groups",
    "tags": "/settings/tags",
    "decide": strategies.PATH,
}
#: the kinds whose page lives with its form editor (analysts' documents)
EDITOR_PAGES: dict[str, Callable[..., Response]] = {
    "target_groups": target_groups.render_page,
    "tags": tags.render_page,
    "decide": strategies.render_page,
}
MAX_FORM_TEXT = config.MAX_TEXT + 1


def _flash(request: Request) -> dict[str, Any]:
    if request.query_params.get("saved"):
        return {"flash": _("Saved. The edit takes effect at the next daily run, after validation.")}
    if request.query_params.get("discarded"):
        return {"flash": _("The pending edit was withdrawn."), "flash_kind": "secondary"}
    return {}


def _page(
    request: Request,
    actor: Actor,
    db: Any,
    tz: Any,
    *,
    template: str,
    tables: list[Table],
    filename: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> Response:
    if wants_export(request):
        return export_tables(request, actor, db, tables, filename, tz)
    merged = {"may_configure": actor.permissions.may_configure, **_flash(request), **context}
    return render(request, template, merged, status_code=status_code)


# ----------------------------------------------------------------------------- policies


def _policies_page(
    request: Request, actor: Actor, db: Any, tz: Any, draft: str | None = None, **extra: Any
) -> Response:
    view = config.rule_document_view(db, actor, "policies")
    validation = view.validation
    prices = latest_limit_prices(db)
    tables = [
        policy_table(list_policies(db), validation, prices),
        message_table(
            "policy_messages", validation, _("Validation messages"), _("Policy"), issue_row
        ),
    ]
    context = {
        "tables": tables,
        "editors": [editor_context(view, draft)],
        "limit_day": prices.bound_on,
        **extra,
    }
    return _page(
        request,
        actor,
        db,
        tz,
        template="business_rules/policies.html",
        tables=tables,
        filename="policies",
        context=context,
        status_code=422 if extra.get("error") else 200,
    )


@router.get("/settings/policies", response_class=HTMLResponse)
def policies(request: Request, actor: PageActor, db: Db, tz: LocalTz) -> Response:
    """The policy library in effect with its validation messages; the editor for admins."""
    return _policies_page(request, actor, db, tz)


# ----------------------------------------------------------------------------- rules


def _rules_page(
    request: Request,
    actor: Actor,
    db: Any,
    tz: Any,
    drafts: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    views = [config.rule_document_view(db, actor, kind) for kind in ("alerts", "care", "anomalies")]
    rules = [rule for view in views for rule in rules_of(view.in_effect)]
    messages: dict[str, list[Any]] = {"errors": [], "warnings": []}
    for view in views:
        for key in messages:
            messages[key] += (view.validation or {}).get(key) or []
    tables = [
        rule_table(rules),
        message_table("rule_messages", messages, _("Validation messages"), _("Rule")),
    ]
    editors = [editor_context(view, (drafts or {}).get(view.kind)) for view in views]
    return _page(
        request,
        actor,
        db,
        tz,
        template="business_rules/rules.html",
        tables=tables,
        filename="alert_and_care_rules",
        context={"tables": tables, "editors": editors, **extra},
        status_code=422 if extra.get("error") else 200,
    )


@router.get("/settings/rules", response_class=HTMLResponse)
def rules(request: Request, actor: PageActor, db: Db, tz: LocalTz) -> Response:
    """Alert and care rules in effect with their validation messages; editors for admins."""
    return _rules_page(request, actor, db, tz)


# ----------------------------------------------------------------------------- contact policy


def _contact_page(
    request: Request, actor: Actor, db: Any, tz: Any, draft: str | None = None, **extra: Any
) -> Response:
    view = config.rule_document_view(db, actor, "contact_policy")
    rules_in_force = current_rules(db)
    prices = latest_limit_prices(db)
    tables = [
        channel_table(rules_in_force, prices),
        general_table(rules_in_force),
        message_table("contact_messages", view.validation, _("Validation messages"), _("Item")),
    ]
    return _page(
        request,
        actor,
        db,
        tz,
        template="business_rules/contact_policy.html",
        tables=tables,
        filename="contact_policy",
        context={
            "tables": tables,
            "editors": [editor_context(view, draft)],
            "limit_day": prices.bound_on,
            **extra,
        },
        status_code=422 if extra.get("error") else 200,
    )


@router.get("/settings/contact-policy", response_class=HTMLResponse)
def contact_policy(request: Request, actor: PageActor, db: Db, tz: LocalTz) -> Response:
    """The contact rules in force as tables; the editor for admins."""
    return _contact_page(request, actor, db, tz)


# ----------------------------------------------------------------------------- saving


def _rerender(
    request: Request,
    actor: Actor,
    db: Any,
    tz: Any,
    kind: str,
    text: str,
    error: str,
    problems: list[dict[str, str]] | None = None,
) -> Response:
    """The page of ``kind`` again with the refused text and why (``problems``: by entry and
    field, for the kinds the run's rules check on save)."""
    shown: dict[str, Any] = {"draft": text, "error": error, "error_kind": kind}
    if problems is not None:
        shown["problems"] = problems
    if kind == "policies":
        return _policies_page(request, actor, db, tz, **shown)
    if kind == "contact_policy":
        return _contact_page(request, actor, db, tz, **shown)
    if kind in EDITOR_PAGES:
        return EDITOR_PAGES[kind](request, actor, db, status_code=422, **shown)
    return _rules_page(request, actor, db, tz, drafts={kind: text}, error=error, error_kind=kind)


@router.post("/settings/{kind}/pending", response_class=HTMLResponse)
def save_pending(
    request: Request,
    actor: PageActor,
    db: Db,
    tz: LocalTz,
    kind: str,
    text: Annotated[str, Form(max_length=MAX_FORM_TEXT)],
) -> Response:
    """Save an edit for the next run (roles that may configure); a YAML that cannot be read,
    or a contact policy with a bad value, is refused at once with the form kept."""
    if kind not in PAGES:
        raise InvalidRequestError(f"unknown settings kind {kind!r}", field="kind")
    config.require_edit(actor, kind)
    try:
        config.save_pending(db, actor, kind, text.replace("\r\n", "\n"))
    except EditRefusedError as exc:
        db.rollback()
        problems = [issue_row(issue) for issue in exc.issues]
        refused = _("The rules refuse this edit.")
        return _rerender(request, actor, db, tz, kind, text, refused, problems)
    except InvalidRequestError as exc:
        db.rollback()
        return _rerender(request, actor, db, tz, kind, text, error_text(exc))
    return RedirectResponse(f"{PAGES[kind]}?saved={kind}#editor-{kind}", status_code=303)


@router.post("/settings/{kind}/discard", response_class=HTMLResponse)
def discard_pending(request: Request, actor: PageActor, db: Db, kind: str) -> Response:
    """Withdraw the pending edit of ``kind`` (roles that may configure)."""
    if kind not in PAGES:
        raise InvalidRequestError(f"unknown settings kind {kind!r}", field="kind")
    config.discard_pending(db, actor, kind)
    return RedirectResponse(f"{PAGES[kind]}?discarded={kind}", status_code=303)
