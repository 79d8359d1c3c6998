"""Routes: task lists (mine, queue, all in scope), claim, transfer with history."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from weiwan.ops.contacts.schemas import Channel
from weiwan.ops.deps import CurrentActor, Db
from weiwan.ops.tasks import service
from weiwan.ops.tasks.models import TASK_STATUSES, Task, TaskTransfer
from weiwan.ops.tasks.schemas import TaskOut, TransferIn, TransferOut

router = APIRouter(tags=["tasks"])
Status = Literal[TASK_STATUSES]  # type: ignore[valid-type]


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
        service.list_tasks(
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
def task(task_id: int, actor: CurrentActor, db: Db) -> Task:
    """One task in scope."""
    return service.get_task(db, actor, task_id)


@router.post("/tasks/{task_id}/claim", response_model=TaskOut)
def claim(task_id: int, actor: CurrentActor, db: Db) -> Task:
    """Take a queued task of one's branch."""
    return service.claim_task(db, actor, task_id)


@router.post("/tasks/{task_id}/transfer", response_model=TaskOut)
def transfer(task_id: int, body: TransferIn, actor: CurrentActor, db: Db) -> Task:
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
def transfers(task_id: int, actor: CurrentActor, db: Db) -> list[TaskTransfer]:
    """The transfer history of a task."""
    return list(service.transfers_of(db, actor, task_id))
