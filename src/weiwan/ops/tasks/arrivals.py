"""Tasks that arrived while a worker's list was open: what the work list's badge polls (a
real-time alert's task shows within seconds, without a reload)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from weiwan.ops.org.access import Actor
from weiwan.ops.scope import task_scope_clause
from weiwan.ops.tasks.due import OPEN
from weiwan.ops.tasks.models import Task


@dataclass(frozen=True)
class Arrivals:
    """Open tasks created after a moment in the actor's scope, and the newest one."""

    count: int
    newest_id: int | None = None
    newest_title_zh: str = ""
    newest_title_en: str = ""
    newest_subscriber: str | None = None


def arrived_since(session: Session, actor: Actor, since: datetime) -> Arrivals:
    """The open tasks the actor may see that were created after ``since``."""
    where = (Task.status == OPEN, Task.created_at > since, task_scope_clause(actor))
    count = int(session.scalar(select(func.count()).select_from(Task).where(*where)) or 0)
    if not count:
        return Arrivals(0)
    newest = session.scalars(select(Task).where(*where).order_by(Task.id.desc()).limit(1)).one()
    return Arrivals(count, newest.id, newest.title_zh, newest.title_en, newest.subscriber_id)
