"""The anomaly pool page (异常库, /anomalies): filters, counts by type and status, the entries
with assign / handle / dismiss (htmx, the pool service's own checks), and the Excel export of
every matching entry (export permission; audited)."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from weiwan.core.errors import InvalidRequestError
from weiwan.ops.anomalies import service
from weiwan.ops.anomalies.models import CATEGORIES, STATUSES, Anomaly
from weiwan.ops.customers.service import with_cards
from weiwan.ops.org.access import Actor
from weiwan.ops.org.directory import branch_codes, display_names
from weiwan.web.i18n import current_language
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.labels import VALUE_TIERS, label
from weiwan.web.pages.anomaly_evidence import evidence_items, evidence_text
from weiwan.web.pages.deps import Db, LocalTz, PageActor, PageForm, export_tables
from weiwan.web.tables import Column, Table, wants_export
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
STATUS_LABELS: dict[str, Any] = {
    "new": _l("New, to assign"),
    "assigned": _l("Assigned"),
    "handled": _l("Handled"),
    "dismissed": _l("Dismissed"),
}
CATEGORY_LABELS: dict[str, Any] = {
    "billing": _l("Billing"),
    "disconnection": _l("Disconnection"),
}
SEVERITY_LABELS: dict[str, Any] = {
    "info": _l("Info"),
    "low": _l("Low"),
    "medium": _l("Medium"),
    "high": _l("High"),
    "critical": _l("Critical"),
}
COLUMNS = (
    Column("id", _l("No.")),
    Column("detected_on", _l("Detected"), "date"),
    Column(
        "subscriber_id", _l("Subscriber"), "link", href=lambda r: f"/customers/{r['subscriber_id']}"
    ),
    Column("type", _l("Type")),
    Column("category", _l("Category")),
    Column("severity", _l("Severity")),
    Column("evidence", _l("Evidence")),
    Column("branch", _l("Branch")),
    Column("value_tier", _l("Value tier")),
    Column("account_manager", _l("Account manager")),
    Column("status", _l("Status")),
    Column("assignee", _l("Assigned to")),
    Column("note", _l("Notes")),
)


def _day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRequestError(_("Use a date like 2026-11-24."), field=field) from exc


def _number(value: str | None, field: str) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidRequestError(_("Choose one from the list."), field=field) from exc


def _choice(value: str | None, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


def _filters(request: Request) -> service.Filters:
    q = request.query_params
    return service.Filters(
        rule_id=q.get("rule_id") or None,
        category=_choice(q.get("category"), CATEGORIES),
        status=_choice(q.get("status"), STATUSES),
        branch_id=_number(q.get("branch_id"), "branch_id"),
        value_tier=q.get("value_tier") or None,
        account_manager=(q.get("account_manager") or "").strip() or None,
        subscriber_id=(q.get("subscriber_id") or "").strip()[:32] or None,
        detected_from=_day(q.get("detected_from"), "detected_from"),
        detected_to=_day(q.get("detected_to"), "detected_to"),
    )


def row_of(entry: Anomaly, names: dict[int, str], cards: set[str]) -> dict[str, Any]:
    """One table row of an entry, in the reader's language; ``cards``: the subscribers with
    a card to link to (one who left or was suspended has none)."""
    english = current_language().startswith("en")
    return {
        "id": entry.id,
        "detected_on": entry.detected_on,
        "subscriber_id": entry.subscriber_id,
        "has_card": entry.subscriber_id in cards,
        "type": entry.name_en if english else entry.name_zh,
        "category": label(CATEGORY_LABELS, entry.category),
        "severity": label(SEVERITY_LABELS, entry.severity),
        "severity_code": entry.severity,
        "evidence": evidence_text(entry.evidence),
        "evidence_items": evidence_items(entry.evidence),
        "branch": entry.branch_code,
        "value_tier": label(VALUE_TIERS, entry.value_tier),
        "account_manager": entry.account_manager,
        "status": label(STATUS_LABELS, entry.status),
        "status_code": entry.status,
        "assignee": names.get(entry.assignee_id) if entry.assignee_id else None,
        "note": entry.note,
    }


def _rows(db: Any, actor: Actor, entries: Any) -> list[dict[str, Any]]:
    names = display_names(db, {e.assignee_id for e in entries if e.assignee_id})
    cards = with_cards(db, actor, [e.subscriber_id for e in entries])
    return [row_of(e, names, cards) for e in entries]


@router.get("/anomalies", response_class=HTMLResponse)
def anomalies(request: Request, actor: PageActor, db: Db, tz: LocalTz, page: int = 1) -> Response:
    """The pool in the reader's scope: counts, filters, entries and their actions."""
    filters = _filters(request)
    if wants_export(request):
        actor.require_export()
        _total, everything = service.list_anomalies(db, actor, filters, limit=service.MAX_EXPORT)
        table = Table("anomalies", COLUMNS, _rows(db, actor, everything), title=_("Anomaly pool"))
        return export_tables(request, actor, db, [table], "anomalies", tz)
    page = max(1, page)
    total, entries = service.list_anomalies(
        db, actor, filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    counts = service.summary(db, actor, filters)
    english = current_language().startswith("en")
    for item in counts["by_rule"]:
        item["label"] = item["name_en"] if english else item["name_zh"]
    table = Table(
        "anomalies",
        COLUMNS,
        _rows(db, actor, entries),
        title=_("Entries"),
        empty=_("No anomalies match."),
    )
    return render(
        request,
        "anomalies/index.html",
        {
            "table": table,
            "counts": counts,
            "filters": filters,
            "status_words": STATUS_LABELS,
            "category_words": CATEGORY_LABELS,
            "tier_words": VALUE_TIERS,
            "branches": branch_codes(db),
            "assignees": service.assignable_users(db, actor),
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "total": total,
            "query": urlencode(
                [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
            ),
        },
    )


def _after(request: Request, form: Any, db: Any, actor: Actor, entry: Anomaly) -> Response:
    if request.headers.get("HX-Request"):
        names = display_names(db, {entry.assignee_id} if entry.assignee_id else set())
        return render(
            request,
            "anomalies/_row.html",
            {
                "row": row_of(entry, names, with_cards(db, actor, [entry.subscriber_id])),
                "assignees": service.assignable_users(db, actor),
            },
        )
    back = str(form.get("next") or "/anomalies")
    return RedirectResponse(back if back.startswith("/anomalies") else "/anomalies", 303)


@router.post("/anomalies/{anomaly_id}/assign")
def assign(
    request: Request, anomaly_id: int, actor: PageActor, db: Db, tz: LocalTz, form: PageForm
) -> Response:
    """Give an entry to an agent (a task is created for them)."""
    assignee = _number(str(form.get("assignee_id") or ""), "assignee_id")
    if assignee is None:
        raise InvalidRequestError(_("Choose one from the list."), field="assignee_id")
    note = str(form.get("note") or "").strip() or None
    entry = service.assign(db, actor, anomaly_id, assignee_id=assignee, tz=tz, note=note)
    return _after(request, form, db, actor, entry)


@router.post("/anomalies/{anomaly_id}/{action}")
def close(
    request: Request, anomaly_id: int, action: str, actor: PageActor, db: Db, form: PageForm
) -> Response:
    """Mark an entry handled or dismiss it, with a note."""
    note = str(form.get("note") or "").strip()
    if not note:
        raise InvalidRequestError(_("Write what was done or why."), field="note")
    if action == "handle":
        entry = service.handle(db, actor, anomaly_id, note)
    elif action == "dismiss":
        entry = service.dismiss(db, actor, anomaly_id, note)
    else:
        raise InvalidRequestError(_("Choose one from the list."), field="action")
    return _after(request, form, db, actor, entry)
