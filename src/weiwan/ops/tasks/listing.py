"""The task list — one for the API (``/api/v1/tasks``: :func:`list_tasks`) and the workbench
(:func:`task_page`: filters, counts and one page of rows) — within the actor's task scope
(``scope.task_scope_clause``), built from the same filters and order.

Order: the task's priority first — the expected value of acting that the next best action (or
the campaign) gave it: churn risk × the offer's uplift × the customer's lifetime value, less the
cost — then the due time, so the customer most worth saving is on top; the workbench sorts by
any of :data:`SORTS` instead (its headings), the Excel export in the same order.

With 1 M customers an agent may hold tens of thousands of open tasks: the order and the page
are taken from the tasks alone (index on assignee and status), and only the page's rows are
joined to the customer view; the total and the counts are one aggregate query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlalchemy.orm import Session

from weiwan.core.contact_rules import CHANNELS
from weiwan.core.errors import InvalidRequestError
from weiwan.ops.base import utcnow
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.org.access import Actor
from weiwan.ops.org.roles import Role
from weiwan.ops.scope import task_scope_clause
from weiwan.ops.tasks.due import (
    day_bounds,
    due_today_clause,
    is_overdue,
    local_today,
    overdue_clause,
)
from weiwan.ops.tasks.models import TASK_SOURCES, TASK_STATUSES, Task

VIEWS = ("mine", "queue", "all")
DUE_FILTERS = ("today", "overdue")
#: the task sources whose priority is an expected value in yuan
VALUED_SOURCES = ("decision", "campaign")
#: the expected value of acting on a task (empty for the tasks that have none: an anomaly to
#: check, a new subscriber's welcome — they follow the valued ones, by due time)
EXPECTED_VALUE = case((Task.source.in_(VALUED_SOURCES), Task.priority), else_=None)
#: what the list may be sorted by (the key in the URL) → the column and its natural direction;
#: the default is the expected value of acting on the task (the decision's risk × uplift ×
#: value, a campaign's risk × value), most first
SORTS: dict[str, tuple[Any, str]] = {
    "value": (EXPECTED_VALUE, "desc"),
    "due": (Task.due_at, "asc"),
    "risk": (CustomerView.churn_probability, "desc"),
    "customer": (Task.subscriber_id, "asc"),
    "channel": (Task.channel, "asc"),
    "status": (Task.status, "asc"),
}
DEFAULT_SORT = "value"
DIRECTIONS = ("asc", "desc")
PAGE_SIZES = (50, 100, 500)
FINISHED = ("done", "closed")


@dataclass(frozen=True, slots=True)
class TaskFilters:
    """The workbench's GET parameters, checked (unknown values fall back to the default)."""

    view: str = "mine"
    status: str | None = "open"
    channel: str | None = None
    source: str | None = None
    due: str | None = None
    page: int = 1
    size: int = PAGE_SIZES[0]
    sort: str = DEFAULT_SORT
    order: str = SORTS[DEFAULT_SORT][1]

    @classmethod
    def from_query(cls, params: Any, actor: Actor) -> TaskFilters:
        """Filters from the query string; agents start on their own tasks, managers on all
        the tasks they see."""
        default_view = "mine" if actor.role is Role.AGENT else "all"
        view = params.get("view") or default_view
        status = params.get("status", "open") or "open"
        channel = params.get("channel") or None
        source = params.get("source") or None
        due = params.get("due") or None
        sort = params.get("sort") or DEFAULT_SORT
        if sort not in SORTS:
            raise InvalidRequestError(f"sort by one of {', '.join(SORTS)}", field="sort")
        order = params.get("order") or SORTS[sort][1]
        if order not in DIRECTIONS:
            raise InvalidRequestError("order is asc or desc", field="order")
        return cls(
            view=view if view in VIEWS else default_view,
            status=None if status == "any" else status if status in TASK_STATUSES else "open",
            channel=channel if channel in CHANNELS else None,
            source=source if source in TASK_SOURCES else None,
            due=due if due in DUE_FILTERS else None,
            page=max(_int(params.get("page"), 1), 1),
            size=_int(params.get("size"), PAGE_SIZES[0])
            if _int(params.get("size"), 0) in PAGE_SIZES
            else PAGE_SIZES[0],
            sort=sort,
            order=order,
        )

    def query_string(self, **changes: Any) -> str:
        """The filters as a query string, with ``changes`` applied (for paging links)."""
        values: dict[str, Any] = {
            "view": self.view,
            "status": self.status or "any",
            "channel": self.channel,
            "source": self.source,
            "due": self.due,
            "page": self.page,
            "size": self.size,
            "sort": self.sort,
            "order": self.order,
        }
        values.update(changes)
        return "&".join(f"{k}={v}" for k, v in values.items() if v not in (None, ""))


@dataclass(frozen=True, slots=True)
class TaskCounts:
    """The figures above the list."""

    open: int = 0
    due_today: int = 0
    overdue: int = 0
    done_today: int = 0


@dataclass(slots=True)
class TaskPage:
    """One page of the list, the number of matching tasks and the counts."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    counts: TaskCounts = field(default_factory=TaskCounts)

    def pages(self, size: int) -> int:
        """How many pages the matching tasks fill."""
        return max((self.total + size - 1) // size, 1)


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _view_clause(actor: Actor, view: str) -> ColumnElement[bool]:
    """``mine`` (assigned to the actor), ``queue`` (unassigned, in the actor's branches) or
    ``all`` (every task the actor may see)."""
    scope = task_scope_clause(actor)
    if view == "mine":
        return and_(scope, Task.assignee_id == actor.user_id)
    if view == "queue":
        return and_(scope, Task.assignee_id.is_(None))
    if view != "all":
        raise InvalidRequestError("use mine, queue or all", field="view")
    return scope


def _base(
    actor: Actor, view: str, channel: str | None, source: str | None = None
) -> list[ColumnElement[bool]]:
    where = [_view_clause(actor, view)]
    if channel:
        where.append(Task.channel == channel)
    if source:
        where.append(Task.source == source)
    return where


#: the default order: the expected value of acting (``priority``) first, then the due time
ORDER = (EXPECTED_VALUE.desc().nulls_last(), Task.due_at.asc().nulls_last(), Task.id)


def sort_order(sort: str = DEFAULT_SORT, order: str | None = None) -> tuple[Any, ...]:
    """The ORDER BY of a sorted list: the chosen column (empty values last), then the default
    order as the tie-break."""
    column, natural = SORTS[sort]
    chosen = column.asc() if (order or natural) == "asc" else column.desc()
    return (chosen.nulls_last(), *ORDER)


def list_tasks(
    session: Session,
    actor: Actor,
    *,
    view: str = "mine",
    status: str | None = "open",
    channel: str | None = None,
    subscriber_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[Task]:
    """Tasks in scope, the most worth acting on first (expected value, then due time);
    ``view`` as in :func:`_view_clause`."""
    where = _base(actor, view, channel)
    if status is not None:
        where.append(Task.status == status)
    if subscriber_id is not None:
        where.append(Task.subscriber_id == subscriber_id)
    query = select(Task).where(*where).order_by(*ORDER)
    return session.scalars(query.limit(limit).offset(offset)).all()


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _list_filters(filters: TaskFilters, tz: ZoneInfo, now: datetime) -> list[ColumnElement[bool]]:
    """The status and due filters of the list (the counts ignore them)."""
    where: list[ColumnElement[bool]] = []
    if filters.status:
        where.append(Task.status == filters.status)
    if filters.due == "today":
        where.append(due_today_clause(now, tz))
    elif filters.due == "overdue":
        where.append(overdue_clause(now))
    return where


def count_tasks(
    session: Session, actor: Actor, filters: TaskFilters, tz: ZoneInfo, now: datetime
) -> tuple[TaskCounts, int]:
    """Open, due today (still ahead), overdue and done today for the view, channel and source
    chosen, and how many tasks the list's filters match: one pass over the tasks."""
    start, _end = day_bounds(local_today(tz, now), tz)
    is_open = Task.status == "open"
    listed = _list_filters(filters, tz, now)
    row = session.execute(
        select(
            _count(is_open),
            _count(due_today_clause(now, tz)),
            _count(overdue_clause(now)),
            _count(and_(Task.status.in_(FINISHED), Task.closed_at >= start)),
            _count(and_(*listed)) if listed else func.count(),
        ).where(*_base(actor, filters.view, filters.channel, filters.source))
    ).one()
    return TaskCounts(*(int(v) for v in row[:4])), int(row[4])


def _page_ids(actor: Actor, filters: TaskFilters, tz: ZoneInfo, now: datetime) -> Any:
    """The ids of the page's tasks in list order (the customer view joined only to sort by
    risk)."""
    query = select(Task.id)
    if filters.sort == "risk":
        query = query.outerjoin(CustomerView, CustomerView.subscriber_id == Task.subscriber_id)
    return (
        query.where(
            *_base(actor, filters.view, filters.channel, filters.source),
            *_list_filters(filters, tz, now),
        )
        .order_by(*sort_order(filters.sort, filters.order))
        .limit(filters.size)
        .offset((filters.page - 1) * filters.size)
    )


#: the origin prefix of the tasks the anomaly pool hands out (``anomaly:<id>``)
ANOMALY_ORIGIN = "anomaly:"


def _listed(ids: list[int]) -> Select[*tuple[Any, ...]]:
    return (
        select(
            Task.id,
            Task.subscriber_id,
            Task.channel,
            Task.source,
            Task.status,
            Task.policy_id,
            Task.campaign_id,
            Task.assignee_id,
            Task.priority,
            Task.due_at,
            Task.title_zh,
            Task.title_en,
            Task.origin,
            CustomerView.subscriber_id.label("in_view"),
            CustomerView.name,
            CustomerView.value_tier,
            CustomerView.risk_band,
            CustomerView.churn_probability,
            CustomerView.future_value,
        )
        .outerjoin(CustomerView, CustomerView.subscriber_id == Task.subscriber_id)
        .where(Task.id.in_(ids))
    )


def task_page(
    session: Session,
    actor: Actor,
    filters: TaskFilters,
    tz: ZoneInfo,
    *,
    language: str,
    now: datetime | None = None,
) -> TaskPage:
    """The page of tasks the filters ask for, the total and the counts."""
    now = now or utcnow()
    counts, total = count_tasks(session, actor, filters, tz, now)
    ids = list(session.scalars(_page_ids(actor, filters, tz, now)))
    found = {r.id: r for r in session.execute(_listed(ids))} if ids else {}
    rows = [
        {
            "task_id": r.id,
            "subscriber_id": r.subscriber_id,
            "name": r.name,
            "channel": r.channel,
            "source": r.source,
            "status": r.status,
            "policy_id": r.policy_id,
            "campaign_id": r.campaign_id,
            "mine": r.assignee_id == actor.user_id,
            "queued": r.assignee_id is None,
            "due_at": r.due_at,
            "overdue": is_overdue(r.status, r.due_at, now),
            "value_tier": r.value_tier,
            "risk_band": r.risk_band,
            "churn_probability": r.churn_probability,
            "future_value": r.future_value,
            #: the expected value of acting (what the default order sorts by), for the tasks
            #: whose priority is one: the daily decisions' and the campaigns'
            "expected_value": r.priority if r.source in VALUED_SOURCES else None,
            "title": (r.title_zh if language.startswith("zh") else r.title_en) or r.title_zh,
            #: the customer is in today's view (one who left has tasks but no card)
            "has_card": r.in_view is not None,
            "anomaly": r.origin.startswith(ANOMALY_ORIGIN),
        }
        for r in (found[i] for i in ids if i in found)
    ]
    return TaskPage(rows=rows, total=total, counts=counts)
