"""The real-time events page (实时事件, /events): how many events arrived and what became of
them, how fast they were handled, and per event rule its actions against the customers it held
out; the last 24 hours by default; Excel. Directors, centre heads (their branches' customers)
and analysts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from weiwan.ops.deps import request_now
from weiwan.ops.events.rules import rules_in_effect
from weiwan.ops.events.summary import EventSummary, event_summary
from weiwan.web.i18n import current_language
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.pages.deps import Db, LocalTz, PageActor, export_tables
from weiwan.web.tables import Column, Table, wants_export
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)
PERIODS = (24, 24 * 7, 24 * 30)
STATUS_LABELS: dict[str, Any] = {
    "received": _l("Waiting"),
    "processed": _l("Acted on or held out"),
    "ignored": _l("No rule fired"),
    "rejected": _l("Refused"),
}
TYPE_LABELS: dict[str, Any] = {
    "port_out_code_request": _l("Port-out code request"),
    "call_forwarding_on": _l("Call forwarding on"),
    "competitor_hotline_call": _l("Competitor hotline call"),
    "pre_disconnect_request": _l("Pre-disconnect request"),
    "complaint": _l("Complaint"),
    "plan_downgrade_request": _l("Plan downgrade request"),
    "recharge_drop": _l("Recharge drop"),
    "store_visit": _l("Store visit"),
}


def _status_table(found: EventSummary, whole: bool) -> Table:
    rows = [
        {"what": STATUS_LABELS.get(k, k), "events": found.by_status.get(k, 0)}
        for k in ("processed", "ignored", "received")
    ]
    if whole:
        rows += [
            {"what": _("Refused at intake (dead letters)"), "events": found.rejected},
            {"what": _("Backlog now"), "events": found.backlog},
        ]
    rows += [{"what": TYPE_LABELS.get(k, k), "events": n} for k, n in sorted(found.by_type.items())]
    columns = [Column("what", _("Events")), Column("events", _("Count"), "int")]
    return Table("event_counts", columns, rows, title=_("Events received"))


def _latency_table(found: EventSummary) -> Table:
    names = {"processing": _("Received → handled"), "end_to_end": _("Happened → handled")}
    rows = [{"what": names[k], **v} for k, v in found.latency.items()]
    columns = [
        Column("what", _("Latency (seconds)")),
        Column("p50", _("Median"), "number"),
        Column("p95", _("95th percentile"), "number"),
        Column("p99", _("99th percentile"), "number"),
        Column("max", _("Longest"), "number"),
    ]
    return Table("event_latency", columns, rows, title=_("Latency"))


def _rule_table(found: EventSummary, names: dict[str, str]) -> Table:
    rows = [
        {
            "rule": names.get(r.rule_id, r.rule_id),
            "fired": r.fired,
            "acted": r.acted,
            "held_out": r.held_out,
            "tasks": r.tasks,
            "messages": r.messages,
            "not_contacted": r.not_contacted,
            "offers": r.offers,
            "offer_cost": r.offer_cost,
            "contacted": r.contacted,
            "accepted": r.accepted,
            "left_acted": r.left_rate_acted,
            "left_held_out": r.left_rate_held_out,
        }
        for r in found.rules
    ]
    columns = [
        Column("rule", _("Event rule")),
        Column("fired", _("Events"), "int"),
        Column("acted", _("Customers acted for"), "int"),
        Column("held_out", _("Customers held out"), "int"),
        Column("tasks", _("Tasks"), "int"),
        Column("messages", _("SMS sent"), "int"),
        Column("not_contacted", _("Not contacted (rules or capacity)"), "int"),
        Column("offers", _("Offers granted"), "int"),
        Column("offer_cost", _("Cost of the offers"), "money"),
        Column("contacted", _("Contacted"), "int"),
        Column("accepted", _("Accepted an offer"), "int"),
        Column("left_acted", _("Left (acted for)"), "percent"),
        Column("left_held_out", _("Left (held out)"), "percent"),
    ]
    return Table(
        "event_rules",
        columns,
        rows,
        title=_("Per event rule, against its hold-out"),
        empty=_("No event rule fired in this period."),
    )


def _hour_table(found: EventSummary) -> Table:
    rows = [{"hour": h, "events": n} for h, n in found.per_hour]
    columns = [Column("hour", _("Hour"), "datetime"), Column("events", _("Events"), "int")]
    return Table("event_hours", columns, rows, title=_("Events per hour"))


@router.get("/events", response_class=HTMLResponse)
def events_page(
    request: Request,
    actor: PageActor,
    db: Db,
    tz: LocalTz,
    hours: int = Query(24, ge=1, le=24 * 31),
) -> Response:
    """The events of the last ``hours`` (24 by default)."""
    found = event_summary(db, actor, request_now(request), hours)
    language = current_language()
    names = {r.id: (r.name_zh if language == "zh-CN" else r.name_en) for r in rules_in_effect(db)}
    whole = actor.scope.value == "all"
    tables = [
        _status_table(found, whole),
        _latency_table(found),
        _rule_table(found, names),
        _hour_table(found),
    ]
    if wants_export(request):
        return export_tables(request, actor, db, tables, "events", tz)
    context = {"tables": tables, "summary": found, "hours": hours, "periods": PERIODS}
    return render(request, "events/summary.html", context)
