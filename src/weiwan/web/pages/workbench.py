"""Pages of the workbench area (see web/nav.py for who sees them): "My tasks" and the unified
customer card, with the card's actions (record an outcome, send an SMS, record a consent or
objection, claim and transfer a task) answered as htmx fragments of the card."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from weiwan.core.errors import NotFoundError
from weiwan.ops.contacts.state import contacted_between
from weiwan.ops.customers.limits import lookup_budget, too_many
from weiwan.ops.customers.lookups import LookupLimitError, audit_miss, check_lookup_rate
from weiwan.ops.customers.service import find_customer
from weiwan.ops.deps import Db, LocalTz, request_now
from weiwan.ops.offers.service import policy_names
from weiwan.ops.org.access import Actor
from weiwan.ops.org.roles import Role
from weiwan.ops.tasks.arrivals import arrived_since
from weiwan.ops.tasks.due import day_bounds, local_today
from weiwan.ops.tasks.listing import PAGE_SIZES, SORTS, TaskFilters, TaskPage, task_page
from weiwan.ops.types import IdPath
from weiwan.web.i18n import current_language
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.labels import CHANNELS as CHANNEL_WORDS
from weiwan.web.labels import RISK_BANDS, TASK_SOURCES, TASK_STATUSES, VALUE_TIERS, label
from weiwan.web.pages import customer_actions
from weiwan.web.pages.customer_actions import FormMessage
from weiwan.web.pages.customer_view import card_context, too_many_text
from weiwan.web.pages.deps import PageActor, PageForm, export_tables
from weiwan.web.tables import Column, Sorting, Table, wants_export
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)

#: who works a task list (nav shows "My tasks" to agents and shift leads; centre heads and the
#: director may open it too, for their branches' / all tasks, and export it)
WORKBENCH_ROLES = (Role.AGENT, Role.SHIFT_LEAD, Role.CENTRE_HEAD, Role.DIRECTOR)
#: channels the card may be viewed from (the audit records it)
VIEW_CHANNELS = ("workbench", "outbound_call", "store", "hotline", "self_service")


def _today(tz: Any) -> Any:
    return datetime.now(tz).date()


# --- My tasks ------------------------------------------------------------------------------


def task_link(row: Mapping[str, Any]) -> str:
    """Where a task row leads: the customer's card, or, for an anomaly-pool task of a
    subscriber without a card today (left or suspended), the pool's entries for them."""
    if row.get("anomaly") and not row.get("has_card", True):
        return f"/anomalies?subscriber_id={row['subscriber_id']}"
    return f"/customers/{row['subscriber_id']}?task={row['task_id']}"


def task_table(
    page: TaskPage,
    filters: TaskFilters,
    policy_names: dict[str, str] | None = None,
    contacted_today: set[str] | None = None,
) -> Table:
    """The page's rows as a table (the Excel export writes the same rows, in the same order):
    offers by name, the expected value, 今日已接触 for customers contacted today; the headings
    with a sort key re-sort the list."""
    names = policy_names or {}
    contacted = contacted_today or set()
    rows = [
        {
            **row,
            "policy_word": names.get(row["policy_id"], row["policy_id"])
            if row["policy_id"]
            else None,
            "channel_word": label(CHANNEL_WORDS, row["channel"]),
            "source_word": label(TASK_SOURCES, row["source"]),
            "status_word": label(TASK_STATUSES, row["status"]),
            "tier_word": label(VALUE_TIERS, row["value_tier"]),
            "risk_word": label(RISK_BANDS, row["risk_band"]),
            "contacted_word": _("Contacted today") if row["subscriber_id"] in contacted else "",
        }
        for row in page.rows
    ]
    sorting = Sorting(
        filters.sort,
        filters.order,
        lambda key, order: "/workbench?" + filters.query_string(sort=key, order=order, page=1),
        {key: natural for key, (_column, natural) in SORTS.items()},
    )
    return Table(
        "tasks",
        [
            Column("expected_value", _l("Expected value"), "money", sort="value"),
            Column("due_at", _l("Due"), "datetime", sort="due"),
            Column("subscriber_id", _l("Customer"), "link", href=task_link, sort="customer"),
            Column("name", _l("Customer name")),
            Column("contacted_word", _l("Today")),
            Column("tier_word", _l("Value tier")),
            Column("risk_word", _l("Risk")),
            Column("churn_probability", _l("Churn probability"), "percent", sort="risk"),
            Column("policy_word", _l("Offer")),
            Column("channel_word", _l("Channel"), sort="channel"),
            Column("source_word", _l("Source")),
            Column("title", _l("Why")),
            Column("status_word", _l("Status"), sort="status"),
            Column("task_id", _l("Task"), "id"),
        ],
        rows,
        title=_l("My tasks"),
        empty=_l("No tasks match the filters."),
        extra={"sorting": sorting},
    )


@router.get("/workbench/arrivals", response_class=HTMLResponse)
def arrivals(request: Request, actor: PageActor, db: Db, since: str = "") -> Response:
    """The badge the work list polls: open tasks that arrived after ``since`` (the moment the
    list was shown), with the newest one's title and a link; empty when none."""
    actor.require(*WORKBENCH_ROLES)
    try:
        moment = datetime.fromisoformat(since[:40])
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        return HTMLResponse("")
    found = arrived_since(db, actor, moment)
    return render(request, "workbench/_arrivals.html", {"arrivals": found})


@router.get("/workbench", response_class=HTMLResponse)
def workbench(request: Request, actor: PageActor, db: Db, tz: LocalTz) -> Response:
    """Open tasks in the actor's scope, the most worth acting on first (sortable by the
    headings), with filters, counts and paging;
    ``?export=xlsx`` writes the page's rows (roles that may export)."""
    actor.require(*WORKBENCH_ROLES)
    filters = TaskFilters.from_query(request.query_params, actor)
    page = task_page(db, actor, filters, tz, language=current_language())
    since, until = day_bounds(local_today(tz), tz)
    contacted = contacted_between(db, [r["subscriber_id"] for r in page.rows], since, until)
    table = task_table(page, filters, policy_names(db, current_language()), contacted)
    if wants_export(request):
        return export_tables(request, actor, db, [table], "tasks", tz)
    return render(
        request,
        "workbench/index.html",
        {
            "filters": filters,
            "page": page,
            "table": table,
            "pages": page.pages(filters.size),
            "page_sizes": PAGE_SIZES,
            "channel_words": CHANNEL_WORDS,
            "source_words": TASK_SOURCES,
            "status_words": TASK_STATUSES,
            "shown_at": request_now(request).isoformat(),
        },
    )


# --- the customer card ----------------------------------------------------------------------


def _card(
    request: Request,
    actor: Actor,
    db: Any,
    tz: Any,
    subscriber_id: str,
    *,
    channel: str = "workbench",
    highlight: int | None = None,
    message: FormMessage | None = None,
    fragment: bool = False,
) -> Response:
    customer = find_customer(db, actor, subscriber_id)  # 404 outside the scope, as the API
    context = card_context(
        db,
        actor,
        customer,
        channel=channel if channel in VIEW_CHANNELS else "workbench",
        tz=tz,
        language=current_language(),
        highlight_task=highlight,
    )
    context["message"] = message
    template = "customer/_work.html" if fragment else "customer/page.html"
    return render(request, template, context)


def _task_param(request: Request) -> int | None:
    value = request.query_params.get("task", "")
    return int(value) if value.isdigit() and len(value) < 10 else None


@router.get("/customers/{subscriber_id}", response_class=HTMLResponse)
def customer_page(
    request: Request, subscriber_id: str, actor: PageActor, db: Db, tz: LocalTz
) -> Response:
    """The unified customer card (audited as a personal-data view; a lookup, rate limited);
    ``?task=`` puts the task being worked first."""
    channel = request.query_params.get("channel", "workbench")
    budget = lookup_budget(request)
    try:
        check_lookup_rate(db, actor, limit=budget.limit, now=budget.now)
    except LookupLimitError as exc:
        raise too_many(exc, too_many_text(exc)) from exc
    try:
        return _card(
            request, actor, db, tz, subscriber_id, channel=channel, highlight=_task_param(request)
        )
    except NotFoundError:
        shown = channel if channel in VIEW_CHANNELS else "workbench"
        audit_miss(db, actor, channel=shown, subscriber_id=subscriber_id)
        raise


def _after_action(
    request: Request,
    actor: Actor,
    db: Any,
    tz: Any,
    subscriber_id: str,
    form: FormData,
    message: FormMessage,
) -> Response:
    """The card's work section (htmx) or the whole card (plain form) with the result."""
    channel = form.get("view_channel")
    fragment = bool(request.headers.get("HX-Request"))
    try:
        return _card(
            request,
            actor,
            db,
            tz,
            subscriber_id,
            channel=channel if isinstance(channel, str) else "workbench",
            highlight=message.task_id,
            message=message,
            fragment=fragment,
        )
    except NotFoundError:  # e.g. the only task was handed on: the customer left the scope
        template = "customer/_gone.html" if fragment else "customer/gone.html"
        return render(request, template, {"message": message, "subscriber_id": subscriber_id})


@router.post("/customers/{subscriber_id}/contacts", response_class=HTMLResponse)
def record_contact(
    request: Request, subscriber_id: str, actor: PageActor, db: Db, tz: LocalTz, form: PageForm
) -> Response:
    """Record a contact and its outcomes as ``POST /api/v1/contacts`` does; a contact-policy
    refusal comes back as a message in the form."""
    actor.require_customer_work()
    find_customer(db, actor, subscriber_id)
    message = customer_actions.record_outcome(db, actor, subscriber_id, form, tz)
    return _after_action(request, actor, db, tz, subscriber_id, form, message)


@router.post("/customers/{subscriber_id}/sms", response_class=HTMLResponse)
def send_sms(
    request: Request, subscriber_id: str, actor: PageActor, db: Db, tz: LocalTz, form: PageForm
) -> Response:
    """Send one SMS to the customer as ``POST /api/v1/sms/messages`` does."""
    actor.require_customer_work()
    message = customer_actions.send_sms(db, actor, subscriber_id, form, tz)
    return _after_action(request, actor, db, tz, subscriber_id, form, message)


@router.post("/customers/{subscriber_id}/consents", response_class=HTMLResponse)
def record_consent(
    request: Request, subscriber_id: str, actor: PageActor, db: Db, tz: LocalTz, form: PageForm
) -> Response:
    """Record the customer's consent or objection as ``POST /api/v1/customers/{id}/consents``
    does (in force at once, audited)."""
    actor.require_customer_work()
    find_customer(db, actor, subscriber_id)
    message = customer_actions.record_consent(db, actor, subscriber_id, form)
    return _after_action(request, actor, db, tz, subscriber_id, form, message)


@router.post("/customers/{subscriber_id}/tasks/{task_id}/transfer", response_class=HTMLResponse)
def transfer_task(
    request: Request,
    subscriber_id: str,
    task_id: IdPath,
    actor: PageActor,
    db: Db,
    tz: LocalTz,
    form: PageForm,
) -> Response:
    """Hand the task to an agent, a branch or a channel (history kept)."""
    actor.require_customer_work()
    find_customer(db, actor, subscriber_id)
    message = customer_actions.transfer(db, actor, task_id, form)
    return _after_action(request, actor, db, tz, subscriber_id, form, message)


@router.post("/customers/{subscriber_id}/tasks/{task_id}/claim", response_class=HTMLResponse)
def claim_task(
    request: Request,
    subscriber_id: str,
    task_id: IdPath,
    actor: PageActor,
    db: Db,
    tz: LocalTz,
    form: PageForm,
) -> Response:
    """Take a queued task of one's branch."""
    actor.require_customer_work()
    find_customer(db, actor, subscriber_id)
    message = customer_actions.claim(db, actor, task_id)
    return _after_action(request, actor, db, tz, subscriber_id, form, message)
