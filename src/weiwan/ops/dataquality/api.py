"""Routes: data-quality reports (file, list, count, confirm / reject, export for the source)
and the export batches (list, download again)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from weiwan.ops.dataquality import service
from weiwan.ops.dataquality.export import (
    Export,
    download_batch,
    export_corrections,
    list_batches,
)
from weiwan.ops.dataquality.schemas import (
    CountOut,
    ExportBatchOut,
    ReportIn,
    ReportOut,
    ReviewIn,
)
from weiwan.ops.deps import CurrentActor, Db, LocalTz
from weiwan.ops.types import MAX_ID, IdPath

router = APIRouter(prefix="/data-quality", tags=["data-quality"])


def _cut(
    field: str | None = None,
    source_table: str | None = None,
    branch_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    since: date | None = None,
    until: date | None = None,
) -> service.Filters:
    """The query string's cut of the reports (unknown values are refused by the service)."""
    return service.Filters(None, field, source_table, branch_id, since, until)


def _cut_and_status(
    cut: Annotated[service.Filters, Depends(_cut)], status: str | None = None
) -> service.Filters:
    return replace(cut, status=status)


#: the list's and the summary's filters; the export takes only confirmed reports (``Cut``)
ListFilters = Annotated[service.Filters, Depends(_cut_and_status)]
Cut = Annotated[service.Filters, Depends(_cut)]


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post(
    "/reports",
    response_model=ReportOut,
    status_code=201,
    responses={409: {"description": "the same value is already reported and open"}},
)
def create_report(body: ReportIn, actor: CurrentActor, db: Db) -> ReportOut:
    """File a report of wrong data (any channel); the value in the data is taken from the
    published customer view, the reported value checked for its field."""
    report = service.file_report(db, actor, body)
    return service.report_out(actor, report, actor.display_name)


@router.get("/reports", response_model=list[ReportOut])
def list_reports(
    request: Request,
    actor: CurrentActor,
    db: Db,
    tz: LocalTz,
    chosen: ListFilters,
    limit: Annotated[int, Query(ge=1, le=service.MAX_ROWS)] = 500,
) -> list[ReportOut]:
    """The reports in the caller's view, newest first (audited as a personal-data view)."""
    return service.list_reports(db, actor, chosen, tz, limit=limit, ip=_ip(request))


@router.get("/reports/{report_id}", response_model=ReportOut)
def get_report(report_id: IdPath, actor: CurrentActor, db: Db) -> ReportOut:
    """One report in the caller's view (404 otherwise)."""
    return service.get_report(db, actor, report_id)


@router.get("/summary", response_model=list[CountOut])
def summary(
    actor: CurrentActor,
    db: Db,
    tz: LocalTz,
    chosen: ListFilters,
) -> list[CountOut]:
    """Reports in view counted by source table × branch and status."""
    return service.counts(db, actor, chosen, tz)


@router.post("/reports/{report_id}/confirm", response_model=ReportOut)
def confirm(
    report_id: IdPath, actor: CurrentActor, db: Db, body: ReviewIn | None = None
) -> ReportOut:
    """Confirm a report: the data is wrong (analyst, centre head, director)."""
    return service.review(db, actor, report_id, "confirmed", body.note if body else None)


@router.post("/reports/{report_id}/reject", response_model=ReportOut)
def reject(
    report_id: IdPath, actor: CurrentActor, db: Db, body: ReviewIn | None = None
) -> ReportOut:
    """Reject a report: the data is right (analyst, centre head, director)."""
    return service.review(db, actor, report_id, "rejected", body.note if body else None)


@router.post(
    "/export",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "the correction file"}},
)
def export(
    request: Request,
    actor: CurrentActor,
    db: Db,
    tz: LocalTz,
    chosen: Cut,
) -> Response:
    """The confirmed reports in view as a CRM correction file (CSV: subscriber_id, table,
    column, current_value, reported_value, reported_at), marked exported and audited. Header
    ``X-Withheld-Reports``: phone and ID reports left for a role that sees full numbers."""
    return correction_file(export_corrections(db, actor, chosen, tz, ip=_ip(request)))


def correction_file(result: Export) -> Response:
    """The correction file as a CSV download named after its batch; headers
    ``X-Export-Batch`` (the batch id, absent when nothing was exported) and
    ``X-Withheld-Reports``."""
    name = (
        f"data-quality-corrections-{result.batch_id}.csv"
        if result.batch_id
        else "data-quality-corrections.csv"
    )
    headers = {
        "Content-Disposition": f"attachment; filename={name}",
        "X-Withheld-Reports": str(result.withheld),
    }
    if result.batch_id:
        headers["X-Export-Batch"] = str(result.batch_id)
    return Response(
        result.csv_text.encode("utf-8-sig"), media_type="text/csv; charset=utf-8", headers=headers
    )


@router.get("/exports", response_model=list[ExportBatchOut])
def export_batches(
    actor: CurrentActor, db: Db, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[ExportBatchOut]:
    """Earlier correction exports the caller may download again, newest first (reviewers who
    may export; a batch with reports outside the caller's view is not listed)."""
    return list_batches(db, actor, limit=limit)


@router.get(
    "/exports/{batch_id}",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "the correction file again"}},
)
def export_batch(
    batch_id: IdPath, request: Request, actor: CurrentActor, db: Db, tz: LocalTz
) -> Response:
    """An earlier correction file again, same rows (audited as an export; 404 outside the
    caller's view)."""
    return correction_file(download_batch(db, actor, batch_id, tz, ip=_ip(request)))
