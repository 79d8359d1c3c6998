"""The task side of the customer card (the card itself: ``customers.card``): which of the
card's open tasks the reader may work and who holds them, the transfer history, the recently
closed tasks and the colleagues and branches a task may be handed to.

Every read stays inside the reader's scope: tasks by ``task_scope_clause``, users by
``user_scope_clause`` (the colleagues a task may be handed to: ``colleague_clause``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import Branch, User
from weiwan.ops.scope import colleague_clause, task_scope_clause
from weiwan.ops.tasks.models import Task, TaskTransfer
from weiwan.ops.tasks.service import TRANSFER_TARGET_ROLES

CLOSED_SHOWN = 10
TRANSFERS_SHOWN = 30


@dataclass(slots=True)
class CardTasks:
    """What the card shows about the customer's tasks for this reader."""

    #: open task id -> assignee, for the card's open tasks in the reader's task scope
    rights: dict[int, int | None] = field(default_factory=dict)
    closed: list[dict[str, Any]] = field(default_factory=list)
    transfers: list[dict[str, Any]] = field(default_factory=list)
    users: list[Any] = field(default_factory=list)
    branches: list[Any] = field(default_factory=list)


def card_tasks(
    session: Session, actor: Actor, subscriber_id: str, open_task_ids: list[int]
) -> CardTasks:
    """The reader's rights on the card's open tasks, the customer's recently closed tasks and
    transfer steps, and the transfer targets."""
    users, branches = transfer_targets(session, actor)
    return CardTasks(
        rights=_task_rights(session, actor, open_task_ids),
        closed=_recently_closed(session, subscriber_id),
        transfers=_transfers(session, actor, subscriber_id),
        users=users,
        branches=branches,
    )


def _task_rights(session: Session, actor: Actor, task_ids: list[int]) -> dict[int, int | None]:
    """Open tasks of the card in the reader's task scope, with their assignee."""
    if not task_ids:
        return {}
    return {
        task_id: assignee
        for task_id, assignee in session.execute(
            select(Task.id, Task.assignee_id).where(Task.id.in_(task_ids), task_scope_clause(actor))
        )
    }


def _transfers(session: Session, actor: Actor, subscriber_id: str) -> list[dict[str, Any]]:
    """Transfer steps of the customer's tasks in the reader's scope, newest first."""
    steps = list(
        session.scalars(
            select(TaskTransfer)
            .join(Task, Task.id == TaskTransfer.task_id)
            .where(Task.subscriber_id == subscriber_id, task_scope_clause(actor))
            .order_by(TaskTransfer.at.desc(), TaskTransfer.id.desc())
            .limit(TRANSFERS_SHOWN)
        )
    )
    ids = {u for t in steps for u in (t.by_user_id, t.from_user_id, t.to_user_id) if u}
    names: dict[int, str] = (
        {
            user_id: name
            for user_id, name in session.execute(
                select(User.id, User.display_name).where(User.id.in_(ids))
            )
        }
        if ids
        else {}
    )
    return [
        {
            "task_id": t.task_id,
            "at": t.at,
            "by": names.get(t.by_user_id),
            "from_user": names.get(t.from_user_id) if t.from_user_id else None,
            "to_user": names.get(t.to_user_id) if t.to_user_id else None,
            "from_branch_id": t.from_branch_id,
            "to_branch_id": t.to_branch_id,
            "from_channel": t.from_channel,
            "to_channel": t.to_channel,
            "reason": t.reason,
        }
        for t in steps
    ]


def _recently_closed(session: Session, subscriber_id: str) -> list[dict[str, Any]]:
    """The customer's latest finished tasks (the card lists only open ones)."""
    rows = session.execute(
        select(
            Task.id,
            Task.channel,
            Task.status,
            Task.policy_id,
            Task.closed_at,
            Task.closed_reason,
        )
        .where(Task.subscriber_id == subscriber_id, Task.status != "open")
        .order_by(Task.closed_at.desc().nulls_last(), Task.id.desc())
        .limit(CLOSED_SHOWN)
    )
    return [dict(r._mapping) for r in rows]


def transfer_targets(session: Session, actor: Actor) -> tuple[list[Any], list[Any]]:
    """Active colleagues the reader may hand a task to, and the branches (stores) by code."""
    users = session.execute(
        select(User.id, User.display_name, User.role)
        .where(
            User.active.is_(True),
            User.id != actor.user_id,
            User.role.in_([r.value for r in TRANSFER_TARGET_ROLES]),
            colleague_clause(actor, User.id),
        )
        .order_by(User.display_name)
        .limit(500)
    ).all()
    branches = session.execute(
        select(Branch.id, Branch.code, Branch.name_zh, Branch.name_en).order_by(Branch.code)
    ).all()
    return list(users), list(branches)
