"""One definition of a task's deadline, "due today" and "overdue", in the centre's local day
(``WEIWAN_TIMEZONE``), for every place that creates tasks or counts them (the workbench, the
team board, the hand-over, campaigns, return visits, the anomaly pool).

- A deadline is the end of a local day (23:59:59 there), counted from the day the task is
  created, never from the data's snapshot day: a task is never overdue when it is made.
- Due today: open, the deadline still ahead and within today (local).
- Overdue: open, the deadline passed. The two never overlap.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_

from weiwan.ops.base import as_utc, utcnow
from weiwan.ops.tasks.models import Task

OPEN = "open"
_LAST_SECOND = time(23, 59, 59)


def local_today(tz: ZoneInfo, now: datetime | None = None) -> date:
    """The centre's date at ``now`` (default: now)."""
    return as_utc(now or utcnow()).astimezone(tz).date()


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The last second of ``day`` in the centre's time zone (aware)."""
    return datetime.combine(day, _LAST_SECOND, tzinfo=tz)


def deadline_in(days: int, tz: ZoneInfo, now: datetime | None = None) -> datetime:
    """The end of the local day ``days`` after today (0: tonight)."""
    return end_of_day(local_today(tz, now) + timedelta(days=days), tz)


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The first moment of ``day`` and of the next day in ``tz``, as UTC."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    return as_utc(start), as_utc(start + timedelta(days=1))


def due_today_clause(now: datetime, tz: ZoneInfo, day: date | None = None) -> ColumnElement[bool]:
    """Open tasks whose deadline is still ahead at ``now`` and falls within ``day`` (default:
    today, local)."""
    start, end = day_bounds(day or local_today(tz, now), tz)
    return and_(Task.status == OPEN, Task.due_at >= max(start, as_utc(now)), Task.due_at < end)


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """Open tasks whose deadline passed before ``now``."""
    return and_(Task.status == OPEN, Task.due_at < as_utc(now))


def is_overdue(status: str, due_at: datetime | None, now: datetime) -> bool:
    """:func:`overdue_clause` for one task already read."""
    return status == OPEN and due_at is not None and as_utc(due_at) < as_utc(now)
