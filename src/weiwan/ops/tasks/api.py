"""Routes: task lists (mine, queue, all in scope), claim, transfer with history, the outbound
call list for external dialers (their results are imported by ``contacts/api.py``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from weiwan.core.contact_rules import Channel
from weiwan.ops.deps import CurrentActor, Db
from weiwan.ops.tasks import dialer, listing, service
from weiwan.ops.tasks.models import TASK_STATUSES, Task, TaskTransfer
from weiwan.ops.tasks.schemas import TaskOut, TransferIn, TransferOut
from weiwan.ops.types import MAX_ID, IdPath

router = APIRouter(tags=["tasks"])
Status = Literal[TASK_STATUSES]  # type: ignore[valid-type]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/tasks", response_model=list[TaskOut])
def tasks(
    actor: CurrentActor,
    db: Db,
    view: Annotated[Literal["mine", "queue", "all"], Query()] = "mine",
    status: Annotated[Status | None, Query()] = "open",
    channel: Annotated[Channel | None, Query()] = None,
    subscriber_id: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[Task]:
    """Tasks in scope, most urgent first."""
    return list(
        listing.list_tasks(
            db,
            actor,
            view=view,
            status=status,
            channel=channel,
            subscriber_id=subscriber_id,
            limit=limit,
            offset=offset,
        )
    )


@router.get("/tasks/{task_id}", response_model=TaskOut)
def task(task_id: IdPath, actor: CurrentActor, db: Db) -> Task:
    """One task in scope."""
    return service.get_task(db, actor, task_id)


@router.post("/tasks/{task_id}/claim", response_model=TaskOut)
def claim(task_id: IdPath, actor: CurrentActor, db: Db) -> Task:
    """Take a queued task of one's branch."""
    return service.claim_task(db, actor, task_id)


@router.post("/tasks/{task_id}/transfer", response_model=TaskOut)
def transfer(task_id: IdPath, body: TransferIn, actor: CurrentActor, db: Db) -> Task:
    """Move a task to another agent, branch queue or channel (history kept)."""
    return service.transfer_task(
        db,
        actor,
        task_id,
        to_user_id=body.to_user_id,
        to_branch_id=body.to_branch_id,
        to_channel=body.to_channel,
        reason=body.reason,
    )


@router.get("/tasks/{task_id}/transfers", response_model=list[TransferOut])
def transfers(task_id: IdPath, actor: CurrentActor, db: Db) -> list[TaskTransfer]:
    """The transfer history of a task."""
    return list(service.transfers_of(db, actor, task_id))


@router.get(
    "/outbound/call-list",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, XLSX: {}}}},
)
def call_list(
    actor: CurrentActor,
    db: Db,
    format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",
    branch_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    lang: Annotated[Literal["zh", "en"], Query()] = "zh",
) -> Response:
    """Open outbound-call tasks for an external dialer (export permission; audited)."""
    rows = dialer.call_list(db, actor, branch_id=branch_id, lang=lang)
    if format == "xlsx":
        body = dialer.to_xlsx(rows, dialer.CALL_LIST_COLUMNS, "call_list")
        media = XLSX
    else:
        body = dialer.to_csv(rows, dialer.CALL_LIST_COLUMNS)
        media = "text/csv; charset=utf-8"
    headers = {"Content-Disposition": f'attachment; filename="call_list.{format}"'}
    return Response(body, media_type=media, headers=headers)
