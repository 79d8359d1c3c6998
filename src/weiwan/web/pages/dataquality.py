"""The data-quality list (数据质量反馈, /data-quality): reports of wrong data filed from
contacts, filtered and counted by source table × branch; reviewers confirm or reject them and
export the confirmed ones as the correction file a CRM load takes. See docs/data-quality.md."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from weiwan.core.errors import InvalidRequestError
from weiwan.ops.dataquality import service
from weiwan.ops.dataquality.api import correction_file
from weiwan.ops.dataquality.export import download_batch, export_corrections, list_batches
from weiwan.ops.dataquality.fields import FIELD_CODES, SOURCE_TABLES
from weiwan.ops.dataquality.models import STATUSES
from weiwan.ops.dataquality.schemas import ExportBatchOut, ReportOut
from weiwan.ops.org.directory import visible_branches
from weiwan.ops.org.models import Branch
from weiwan.ops.types import IdPath
from weiwan.web.i18n import current_language
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.pages.deps import Db, LocalTz, PageActor, PageForm, export_tables
from weiwan.web.tables import Column, Table, wants_export
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)

FIELD_LABELS: dict[str, Any] = {
    "msisdn": _l("Phone number"),
    "name": _l("Customer name"),
    "id_number": _l("ID number"),
    "plan_id": _l("Plan"),
    "account_manager": _l("Account manager"),
    "branch": _l("Branch"),
    "other": _l("Other"),
}
STATUS_LABELS: dict[str, Any] = {
    "new": _l("New, to review"),
    "confirmed": _l("Confirmed"),
    "rejected": _l("Rejected"),
    "exported": _l("Exported"),
}
TABLE_LABELS: dict[str, Any] = {"subscribers": _l("Subscribers")}

REPORT_COLUMNS = (
    Column("id", _l("Report")),
    Column("reported_at", _l("Reported at"), "datetime"),
    Column("subscriber_id", _l("Subscriber"), "link", href=lambda r: r["customer_url"]),
    Column("branch", _l("Branch")),
    Column("field_label", _l("Field")),
    Column("source", _l("Source table and column")),
    Column("data_value", _l("Value in the data")),
    Column("reported_value", _l("Value reported")),
    Column("note", _l("Note")),
    Column("contact_id", _l("Contact")),
    Column("reported_by_name", _l("Reported by")),
    Column("status_label", _l("Status")),
    Column("reviewed_at", _l("Reviewed at"), "datetime"),
    Column("review_note", _l("Review note")),
)
BATCH_COLUMNS = (
    Column("id", _l("Export batch"), "link", href=lambda r: f"/data-quality/exports/{r['id']}"),
    Column("exported_at", _l("Exported at"), "datetime"),
    Column("exported_by_name", _l("Exported by")),
    Column("rows", _l("Reports"), "int"),
    Column("withheld", _l("Withheld"), "int"),
    Column("filters_text", _l("Filters")),
)
COUNT_COLUMNS = (
    Column("table_label", _l("Source table")),
    Column("branch", _l("Branch")),
    *(Column(status, STATUS_LABELS[status], "int") for status in STATUSES),
    Column("total", _l("Total"), "int"),
)


def _label(labels: dict[str, Any], code: str | None) -> str:
    return str(labels.get(code or "", code or "—"))


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _day(value: str | None, name: str) -> date | None:
    if not _text(value):
        return None
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise InvalidRequestError(_("Use a date like 2026-11-24."), field=name) from exc


def _branch_id(value: str | None) -> int | None:
    text = _text(value)
    if text is None:
        return None
    if not text.isdigit() or not 0 < int(text) < 2**31:
        raise InvalidRequestError(_("Please check your input"), field="branch")
    return int(text)


def _branch_names(branches: list[Branch]) -> dict[int, str]:
    zh = current_language() == "zh-CN"
    return {b.id: b.name_zh if zh else b.name_en for b in branches}


def filters_of(values: Any, *, with_status: bool = True) -> service.Filters:
    """The filters of the page's query string (or of a form with the same names)."""
    return service.Filters(
        status=_text(values.get("status")) if with_status else None,
        field=_text(values.get("field")),
        source_table=_text(values.get("source_table")),
        branch_id=_branch_id(values.get("branch")),
        since=_day(values.get("since"), "since"),
        until=_day(values.get("until"), "until"),
    )


def _report_row(report: ReportOut, names: dict[int, str]) -> dict[str, Any]:
    branch = names.get(report.branch_id or 0, report.branch_code or "—")
    return report.model_dump() | {
        "customer_url": f"/customers/{report.subscriber_id}",
        "branch": branch,
        "field_label": _label(FIELD_LABELS, report.field),
        "source": f"{report.source_table}.{report.source_column or '—'}",
        "status_label": _label(STATUS_LABELS, report.status),
    }


def _batch_row(batch: ExportBatchOut) -> dict[str, Any]:
    filters = "; ".join(f"{k}={v}" for k, v in batch.filters.items()) or "—"
    return batch.model_dump() | {"filters_text": filters}


@router.get("/data-quality")
def data_quality(request: Request, actor: PageActor, db: Db, tz: LocalTz) -> Response:
    """Counts by source table × branch and the reports in the caller's view (a personal-data
    view, audited); ``?export=xlsx`` gives both as shown."""
    chosen = filters_of(request.query_params)
    ip = request.client.host if request.client else None
    reports = service.list_reports(db, actor, chosen, tz, ip=ip)
    branches = visible_branches(db, actor)
    names = _branch_names(branches)
    count_rows = [
        c.model_dump()
        | {
            "table_label": _label(TABLE_LABELS, c.source_table),
            "branch": names.get(c.branch_id or 0, c.branch_code or "—"),
        }
        for c in service.counts(db, actor, chosen, tz)
    ]
    tables = [
        Table(
            "dq-counts",
            COUNT_COLUMNS,
            count_rows,
            title=_("Reports by source table and branch"),
            empty=_("No reports."),
        ),
        Table(
            "dq-reports",
            REPORT_COLUMNS,
            [_report_row(r, names) for r in reports],
            title=_("Reports"),
            empty=_("No reports."),
        ),
    ]
    may_review = actor.role in service.REVIEWERS
    may_export_corrections = may_review and actor.permissions.may_export
    if may_export_corrections:
        tables.append(
            Table(
                "dq-batches",
                BATCH_COLUMNS,
                [_batch_row(b) for b in list_batches(db, actor)],
                title=_("Correction exports, to download again"),
                empty=_("No corrections exported yet."),
            )
        )
    if wants_export(request):
        return export_tables(request, actor, db, tables, "data-quality", tz)
    return render(
        request,
        "dataquality/list.html",
        {
            "tables": tables,
            "filters": chosen,
            "branches": branches,
            "branch_names": names,
            "fields": {code: FIELD_LABELS[code] for code in FIELD_CODES},
            "statuses": STATUS_LABELS,
            "source_tables": {t: _label(TABLE_LABELS, t) for t in SOURCE_TABLES},
            "may_review": may_review,
            "may_export_corrections": may_export_corrections,
            "full_numbers": actor.permissions.may_see_full_numbers,
            "query": request.url.query,
        },
    )


def _back(form: PageForm) -> str:
    query = form.get("query")
    params = query if isinstance(query, str) and query.isprintable() else ""
    return "/data-quality" + (f"?{params}" if params else "")


@router.post("/data-quality/{report_id}/{decision}")
def review(report_id: int, decision: str, actor: PageActor, db: Db, form: PageForm) -> Response:
    """Confirm or reject one report (as the API's routes), back to the list."""
    action = {"confirm": "confirmed", "reject": "rejected"}.get(decision)
    if action is None or not 0 < report_id < 2**31:
        raise InvalidRequestError(_("Please check your input"), field="decision")
    note = form.get("note")
    service.review(db, actor, report_id, action, note if isinstance(note, str) else None)
    return RedirectResponse(_back(form), status_code=303)


@router.post("/data-quality/export")
def export(request: Request, actor: PageActor, db: Db, tz: LocalTz, form: PageForm) -> Response:
    """The confirmed reports of the filters as the CRM correction file (marked exported,
    audited), as ``POST /api/v1/data-quality/export``."""
    chosen = filters_of({k: v for k, v in form.items() if isinstance(v, str)}, with_status=False)
    ip = request.client.host if request.client else None
    return correction_file(export_corrections(db, actor, chosen, tz, ip=ip))


@router.get("/data-quality/exports/{batch_id}")
def export_batch(
    request: Request, actor: PageActor, db: Db, tz: LocalTz, batch_id: IdPath
) -> Response:
    """An earlier correction file again, same rows (audited as an export), as
    ``GET /api/v1/data-quality/exports/{batch_id}``."""
    ip = request.client.host if request.client else None
    return correction_file(download_batch(db, actor, batch_id, tz, ip=ip))
