"""The anomaly pool: reading within scope, assigning (a task through the task path), handling
and dismissing with a note, and the export.

Scope: director and analyst see every entry; branch roles their branches' entries; agents the
entries of customers they manage, whose tasks they hold, that name them as account manager or
that were assigned to them; shift leads the same for their team. An entry outside the scope is
answered 404 like a missing one. The administrator runs the system and reads no pool.

Status: new → assigned → handled / dismissed; a new entry may be handled or dismissed at once.
Every change is a history row (who, when, from, to, note); any other move is refused (409).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    any_,
    bindparam,
    func,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased

from weiwan.core.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from weiwan.ops.anomalies.models import Anomaly, AnomalyChange
from weiwan.ops.base import utcnow
from weiwan.ops.guard import transition as conditional_update
from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import User
from weiwan.ops.org.roles import Role, Scope
from weiwan.ops.org.service import AuditAction, audit
from weiwan.ops.scope import subscriber_scope_clause, user_scope_clause
from weiwan.ops.tasks.due import deadline_in
from weiwan.ops.tasks.listing import ANOMALY_ORIGIN
from weiwan.ops.tasks.models import CustomerAssignment, Task
from weiwan.ops.tasks.service import DUE_DAYS, TaskSpec, create_tasks

#: roles that read the pool (everyone but the administrator)
READERS = tuple(r for r in Role if r is not Role.ADMIN)
#: roles that give an entry to someone (and may handle or dismiss any entry they see)
ASSIGNERS = (Role.SHIFT_LEAD, Role.CENTRE_HEAD, Role.DIRECTOR)
#: roles an entry may be given to: those who work customers' tasks
ASSIGNEE_ROLES = (Role.AGENT, Role.SHIFT_LEAD, Role.STORE_CLERK, Role.HOTLINE_AGENT)
#: the task source of an anomaly's task (the task table's sources have no "anomaly" yet; the
#: origin ``anomaly:<id>`` tells them apart)
TASK_SOURCE = "alert"
OPEN_STATUSES = ("new", "assigned")
MAX_EXPORT = 50_000


@dataclass(frozen=True, slots=True)
class Filters:
    """What a list, a summary or an export is narrowed to (None: no condition)."""

    rule_id: str | None = None
    category: str | None = None
    status: str | None = None
    branch_id: int | None = None
    value_tier: str | None = None
    manager_id: int | None = None
    account_manager: str | None = None
    subscriber_id: str | None = None
    detected_from: date | None = None
    detected_to: date | None = None


def scope_clause(actor: Actor) -> ColumnElement[bool]:
    """Entries the actor may see (see the module doc)."""
    customers = subscriber_scope_clause(actor, Anomaly.subscriber_id, Anomaly.branch_id)
    if actor.scope in (Scope.ALL, Scope.BRANCH):
        return customers
    named = and_(Anomaly.manager_id.is_not(None), user_scope_clause(actor, Anomaly.manager_id))
    given = and_(Anomaly.assignee_id.is_not(None), user_scope_clause(actor, Anomaly.assignee_id))
    return or_(customers, named, given)


def _visible_ids(session: Session, actor: Actor) -> ColumnElement[bool]:
    """:func:`scope_clause` for lists of an own or team scope: the entries of the scope's users
    (ids resolved first, so the tasks' and assignments' user indexes serve) as one set of ids,
    the union of the four ways in: the pool joined once to the managed and tasked subscribers
    instead of a pair of lookups per entry (a correlated EXISTS under OR cannot become a
    join)."""
    users = list(session.scalars(select(User.id).where(user_scope_clause(actor, User.id))))
    users = users or [actor.user_id]
    pool = aliased(Anomaly)
    # the managed and the tasked subscribers as one list: the pool is hashed once against it
    subscribers = union_all(
        select(CustomerAssignment.subscriber_id.label("subscriber_id")).where(
            CustomerAssignment.user_id.in_(users)
        ),
        select(Task.subscriber_id).where(Task.assignee_id.in_(users)),
    ).subquery("scope_subscribers")
    ids = union(
        select(pool.id).join(subscribers, subscribers.c.subscriber_id == pool.subscriber_id),
        select(pool.id).where(pool.manager_id.in_(users)),
        select(pool.id).where(pool.assignee_id.in_(users)),
    )
    return Anomaly.id.in_(ids)


def _filtered(session: Session, actor: Actor, filters: Filters) -> list[ColumnElement[bool]]:
    actor.require(*READERS)
    if (
        filters.detected_from
        and filters.detected_to
        and filters.detected_to < filters.detected_from
    ):
        raise InvalidRequestError("the end is before the start", field="detected_to")
    where = [
        scope_clause(actor)
        if actor.scope in (Scope.ALL, Scope.BRANCH)
        else _visible_ids(session, actor)
    ]
    equal: dict[str, Any] = {
        "rule_id": filters.rule_id,
        "category": filters.category,
        "status": filters.status,
        "branch_id": filters.branch_id,
        "value_tier": filters.value_tier,
        "manager_id": filters.manager_id,
        "account_manager": filters.account_manager,
        "subscriber_id": filters.subscriber_id,
    }
    for name, value in equal.items():
        if value is not None:
            where.append(getattr(Anomaly, name) == value)
    if filters.detected_from is not None:
        where.append(Anomaly.detected_on >= filters.detected_from)
    if filters.detected_to is not None:
        where.append(Anomaly.detected_on <= filters.detected_to)
    return where


def _ordered(query: Select[Any]) -> Select[Any]:
    return query.order_by(Anomaly.detected_on.desc(), Anomaly.id.desc())


#: ``session.info`` key of the counts a list made, for the summary of the same request
_COUNTED = "anomaly_pool_counts"
Counted = list[tuple[str, str, str, str, str, int]]


def _counts_key(actor: Actor, filters: Filters) -> tuple[Any, ...]:
    return (actor.user_id, actor.role, actor.team_id, tuple(actor.branch_ids), filters)


def _count(session: Session, where: list[ColumnElement[bool]]) -> Counted:
    """(rule, names, category, status, count) of the matching entries: one grouped pass that
    gives the list's total and every count of the summary."""
    rows = session.execute(
        select(
            Anomaly.rule_id,
            func.min(Anomaly.name_zh),
            func.min(Anomaly.name_en),
            Anomaly.category,
            Anomaly.status,
            func.count(),
        )
        .where(*where)
        .group_by(Anomaly.rule_id, Anomaly.category, Anomaly.status)
    ).all()
    return [(str(r), str(zh), str(en), str(c), str(s), int(n)) for r, zh, en, c, s, n in rows]


def _on_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def list_anomalies(
    session: Session, actor: Actor, filters: Filters, *, limit: int = 50, offset: int = 0
) -> tuple[int, Sequence[Anomaly]]:
    """(How many match, one page of them), newest first. The counts are kept in the session
    for a :func:`summary` of the same filters right after (a page shows both)."""
    where = _filtered(session, actor, filters)
    if actor.scope not in (Scope.ALL, Scope.BRANCH) and _on_postgresql(session):
        # the scope's set is the costly part: found once, then the count and the page read
        # the entries by primary key
        ids = list(session.scalars(select(Anomaly.id).where(*where)))
        where = [Anomaly.id == any_(bindparam("visible_ids", ids, type_=ARRAY(Integer)))]
    counted = _count(session, where)
    session.info[_COUNTED] = (_counts_key(actor, filters), counted)
    rows = session.scalars(_ordered(select(Anomaly).where(*where)).limit(limit).offset(offset))
    return sum(row[-1] for row in counted), rows.all()


def summary(session: Session, actor: Actor, filters: Filters) -> dict[str, Any]:
    """Counts by type (rule, with its names), category and status (those of the list just
    made with the same filters in this session, if any: taken, not kept)."""
    where = _filtered(session, actor, filters)
    kept = session.info.pop(_COUNTED, None)
    counted = kept[1] if kept and kept[0] == _counts_key(actor, filters) else _count(session, where)
    rules: dict[str, dict[str, Any]] = {}
    categories: dict[str, int] = {}
    statuses: dict[str, int] = {}
    for rule, zh, en, category, status, number in counted:
        entry = rules.setdefault(rule, {"key": rule, "name_zh": zh, "name_en": en, "count": 0})
        entry["name_zh"], entry["name_en"] = min(entry["name_zh"], zh), min(entry["name_en"], en)
        entry["count"] += number
        categories[category] = categories.get(category, 0) + number
        statuses[status] = statuses.get(status, 0) + number
    return {
        "by_rule": sorted(rules.values(), key=lambda e: (-e["count"], e["key"])),
        "by_category": [{"key": k, "count": categories[k]} for k in sorted(categories)],
        "by_status": [{"key": k, "count": statuses[k]} for k in sorted(statuses)],
        "total": sum(statuses.values()),
    }


def get_anomaly(session: Session, actor: Actor, anomaly_id: int, *, lock: bool = False) -> Anomaly:
    """One entry in scope (404 otherwise, alike for missing and hidden)."""
    actor.require(*READERS)
    query = select(Anomaly).where(Anomaly.id == anomaly_id, scope_clause(actor))
    entry = session.scalar(query.with_for_update() if lock else query)
    if entry is None:
        raise NotFoundError(f"anomaly {anomaly_id} not found")
    return entry


def history(session: Session, anomaly_id: int) -> Sequence[AnomalyChange]:
    """The status changes of an entry, oldest first (the caller checked the scope)."""
    return session.scalars(
        select(AnomalyChange)
        .where(AnomalyChange.anomaly_id == anomaly_id)
        .order_by(AnomalyChange.id)
    ).all()


def _change(
    session: Session,
    actor: Actor,
    entry: Anomaly,
    to_status: str,
    note: str | None,
) -> Anomaly:
    # conditional on the status read (FOR UPDATE is a no-op on SQLite): one of two requests
    # changing the same entry at once wins, the other gets a 409
    before = entry.status
    if not conditional_update(
        session, Anomaly, entry.id, {"status": before}, {"status": to_status}
    ):
        raise ConflictError(f"anomaly {entry.id} is no longer {before}; reload it")
    session.add(
        AnomalyChange(
            anomaly_id=entry.id,
            at=utcnow(),
            by_user_id=actor.user_id,
            from_status=before,
            to_status=to_status,
            note=note,
            task_id=entry.task_id,
        )
    )
    session.info.pop(_COUNTED, None)
    entry.status = to_status
    entry.note = note if note is not None else entry.note
    entry.updated_at = utcnow()
    entry.updated_by = actor.user_id
    session.flush()
    return entry


def _assignee(session: Session, actor: Actor, user_id: int) -> User:
    user = session.get(User, user_id)
    visible = session.scalar(
        select(User.id).where(User.id == user_id, user_scope_clause(actor, User.id))
    )
    if user is None or visible is None or not user.active or Role(user.role) not in ASSIGNEE_ROLES:
        raise InvalidRequestError(
            f"user {user_id} cannot take this entry (an active agent in your scope)",
            field="assignee_id",
        )
    return user


def assign(
    session: Session,
    actor: Actor,
    anomaly_id: int,
    *,
    assignee_id: int,
    tz: ZoneInfo,
    channel: str = "outbound_call",
    note: str | None = None,
) -> Anomaly:
    """Give a new entry to an agent in the assigner's scope: a task is created for them through
    the task path (origin ``anomaly:<id>``, due at the end of a local day of ``tz``) and
    linked to the entry."""
    actor.require(*READERS)
    entry = get_anomaly(session, actor, anomaly_id, lock=True)
    if actor.role not in ASSIGNERS:
        raise PermissionDeniedError(f"role {actor.role.value} may not assign pool entries")
    if entry.status != "new":
        raise ConflictError(
            f"anomaly {anomaly_id} is {entry.status}; only new entries are assigned"
        )
    user = _assignee(session, actor, assignee_id)
    origin = f"{ANOMALY_ORIGIN}{entry.id}"
    due = deadline_in(DUE_DAYS.get(channel, 3), tz)
    create_tasks(
        session,
        [
            TaskSpec(
                subscriber_id=entry.subscriber_id,
                source=TASK_SOURCE,
                origin=origin,
                channel=channel,
                assignee_id=user.id,
                priority=1.0,
                due_at=due,
                title_zh=f"异常库：{entry.name_zh}"[:200],
                title_en=f"Anomaly: {entry.name_en}"[:200],
            )
        ],
    )
    task = session.scalar(
        select(Task).where(
            Task.origin == origin,
            Task.subscriber_id == entry.subscriber_id,
            Task.channel == channel,
        )
    )
    assert task is not None  # created now, or by an earlier assignment of the same entry
    entry.task_id = task.id
    entry.assignee_id = user.id
    return _change(session, actor, entry, "assigned", note)


def _close(session: Session, actor: Actor, anomaly_id: int, to_status: str, note: str) -> Anomaly:
    actor.require_customer_work()
    entry = get_anomaly(session, actor, anomaly_id, lock=True)
    if entry.status not in OPEN_STATUSES:
        raise ConflictError(
            f"anomaly {anomaly_id} is already {entry.status}; only new or assigned entries "
            f"can be {to_status}"
        )
    if (
        entry.status == "assigned"
        and actor.role not in ASSIGNERS
        and entry.assignee_id != actor.user_id
    ):
        raise PermissionDeniedError("only the assignee or a shift lead may close this entry")
    if not note.strip():
        raise InvalidRequestError("write what was done or why", field="note")
    return _change(session, actor, entry, to_status, note.strip())


def handle(session: Session, actor: Actor, anomaly_id: int, note: str) -> Anomaly:
    """Mark an entry handled, saying what was done."""
    return _close(session, actor, anomaly_id, "handled", note)


def dismiss(session: Session, actor: Actor, anomaly_id: int, note: str) -> Anomaly:
    """Dismiss an entry (not an anomaly after all), saying why."""
    return _close(session, actor, anomaly_id, "dismissed", note)


EXPORT_COLUMNS = (
    "id",
    "detected_on",
    "subscriber_id",
    "rule_id",
    "name",
    "category",
    "severity",
    "period_key",
    "evidence",
    "branch_code",
    "value_tier",
    "account_manager",
    "status",
    "assignee",
    "task_id",
    "note",
)


def export_rows(
    session: Session, actor: Actor, filters: Filters, *, lang: str = "zh"
) -> list[dict[str, Any]]:
    """Every matching entry as a row of :data:`EXPORT_COLUMNS` (export permission; audited)."""
    actor.require_export()
    where = _filtered(session, actor, filters)
    names = dict(session.execute(select(User.id, User.display_name)).all())
    rows = [
        {
            "id": a.id,
            "detected_on": a.detected_on.isoformat(),
            "subscriber_id": a.subscriber_id,
            "rule_id": a.rule_id,
            "name": a.name_en if lang == "en" else a.name_zh,
            "category": a.category,
            "severity": a.severity,
            "period_key": a.period_key,
            "evidence": a.evidence,
            "branch_code": a.branch_code,
            "value_tier": a.value_tier,
            "account_manager": a.account_manager,
            "status": a.status,
            "assignee": names.get(a.assignee_id) if a.assignee_id else None,
            "task_id": a.task_id,
            "note": a.note,
        }
        for a in session.scalars(_ordered(select(Anomaly).where(*where)).limit(MAX_EXPORT))
    ]
    detail = {
        name: str(getattr(filters, name))
        for name in Filters.__dataclass_fields__
        if getattr(filters, name) is not None
    }
    audit(
        session, actor.user_id, AuditAction.EXPORT, "anomalies", None, {"rows": len(rows), **detail}
    )
    return rows


def assignable_users(session: Session, actor: Actor) -> list[tuple[int, str]]:
    """Active users in the actor's scope who may be given an entry (none for a reader who may
    not assign), by name."""
    if actor.role not in ASSIGNERS:
        return []
    rows = session.execute(
        select(User.id, User.display_name)
        .where(
            User.active.is_(True),
            User.role.in_([r.value for r in ASSIGNEE_ROLES]),
            user_scope_clause(actor, User.id),
        )
        .order_by(User.display_name, User.id)
    ).all()
    return [(int(u), str(n)) for u, n in rows]
