"""Routes: the anomaly pool (list, summary, export, one entry, assign, handle, dismiss)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from weiwan.ops.anomalies import service
from weiwan.ops.anomalies.models import Anomaly
from weiwan.ops.anomalies.schemas import (
    AnomalyDetail,
    AnomalyOut,
    AnomalyPage,
    AnomalySummary,
    AssignIn,
    Category,
    NoteIn,
    Status,
)
from weiwan.ops.deps import CurrentActor, Db, LocalTz
from weiwan.ops.tasks.dialer import to_xlsx
from weiwan.ops.types import MAX_ID, IdPath

router = APIRouter(prefix="/anomalies", tags=["anomalies"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def filters(
    rule_id: Annotated[str | None, Query(max_length=64)] = None,
    category: Annotated[Category | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
    branch_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    value_tier: Annotated[str | None, Query(max_length=32)] = None,
    manager_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    account_manager: Annotated[str | None, Query(max_length=64)] = None,
    subscriber_id: Annotated[str | None, Query(max_length=32)] = None,
    detected_from: Annotated[date | None, Query()] = None,
    detected_to: Annotated[date | None, Query()] = None,
) -> service.Filters:
    """The list filters of the query string."""
    return service.Filters(
        rule_id=rule_id,
        category=category,
        status=status,
        branch_id=branch_id,
        value_tier=value_tier,
        manager_id=manager_id,
        account_manager=account_manager,
        subscriber_id=subscriber_id,
        detected_from=detected_from,
        detected_to=detected_to,
    )


Filtered = Annotated[service.Filters, Depends(filters)]


@router.get("", response_model=AnomalyPage)
def anomalies(
    actor: CurrentActor,
    db: Db,
    where: Filtered,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Entries in scope matching the filters, newest first, one page."""
    total, items = service.list_anomalies(db, actor, where, limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@router.get("/summary", response_model=AnomalySummary)
def summary(actor: CurrentActor, db: Db, where: Filtered) -> dict[str, Any]:
    """Counts of the matching entries by type, category and status."""
    return service.summary(db, actor, where)


@router.get(
    "/export",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}},
)
def export(
    actor: CurrentActor,
    db: Db,
    where: Filtered,
    lang: Annotated[Literal["zh", "en"], Query()] = "zh",
) -> Response:
    """Every matching entry as an Excel workbook (export permission; audited)."""
    rows = service.export_rows(db, actor, where, lang=lang)
    body = to_xlsx(rows, service.EXPORT_COLUMNS, "anomalies")
    headers = {"Content-Disposition": 'attachment; filename="anomalies.xlsx"'}
    return Response(body, media_type=XLSX, headers=headers)


@router.get("/{anomaly_id}", response_model=AnomalyDetail)
def anomaly(anomaly_id: IdPath, actor: CurrentActor, db: Db) -> dict[str, Any]:
    """One entry in scope with its status history."""
    entry = service.get_anomaly(db, actor, anomaly_id)
    out = AnomalyOut.model_validate(entry).model_dump()
    return {**out, "history": list(service.history(db, entry.id))}


@router.post("/{anomaly_id}/assign", response_model=AnomalyOut)
def assign(anomaly_id: IdPath, body: AssignIn, actor: CurrentActor, db: Db, tz: LocalTz) -> Anomaly:
    """Give a new entry to an agent: a task is created for them and linked."""
    return service.assign(
        db,
        actor,
        anomaly_id,
        assignee_id=body.assignee_id,
        tz=tz,
        channel=body.channel,
        note=body.note,
    )


@router.post("/{anomaly_id}/handle", response_model=AnomalyOut)
def handle(anomaly_id: IdPath, body: NoteIn, actor: CurrentActor, db: Db) -> Anomaly:
    """Mark an entry handled, with what was done."""
    return service.handle(db, actor, anomaly_id, body.note)


@router.post("/{anomaly_id}/dismiss", response_model=AnomalyOut)
def dismiss(anomaly_id: IdPath, body: NoteIn, actor: CurrentActor, db: Db) -> Anomaly:
    """Dismiss an entry, with why."""
    return service.dismiss(db, actor, anomaly_id, body.note)
