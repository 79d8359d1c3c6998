"""Creating, routing, listing and transferring tasks.

Routing (任务分派), in order: a task already naming its assignee keeps it; a customer who
already has an open task in the channel with someone gets the new one with the same person
(one agent per customer and channel, not two calling about two offers); an account-manager
call, or any task of a high-value customer, goes to the customer's account manager; an
outbound call of a customer with a retention manager goes to that manager; every other task
waits in the queue of the customer's branch and the task's channel, from which agents claim.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import QueryableAttribute, Session

from weiwan.core.contact_rules import CHANNELS
from weiwan.core.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from weiwan.ops.base import one_of, utcnow
from weiwan.ops.bulk import insert_ignoring_duplicates
from weiwan.ops.customers.models import CustomerView, PublishedDecision
from weiwan.ops.guard import transition
from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import Branch, User
from weiwan.ops.org.roles import Role, Scope
from weiwan.ops.scope import colleague_clause, task_scope_clause
from weiwan.ops.tasks.due import OPEN, deadline_in
from weiwan.ops.tasks.models import CustomerAssignment, Task, TaskTransfer

#: value tiers whose tasks go to the account manager (大客户经理)
HIGH_VALUE_TIERS = frozenset({"diamond", "gold"})
#: lifecycle stage of subscribers who just arrived (入网)
ARRIVAL_STAGE = "onboarding"
#: channels whose decisions become tasks for people (SMS and self-service need no person)
STAFFED_CHANNELS = ("outbound_call", "account_manager_call", "store", "hotline")
#: the roles a task may be handed to by name (they work tasks)
TRANSFER_TARGET_ROLES = (Role.AGENT, Role.STORE_CLERK, Role.HOTLINE_AGENT, Role.SHIFT_LEAD)
#: days until a task created from the day's decisions is due, per channel
DUE_DAYS = {"outbound_call": 3, "account_manager_call": 5, "store": 30, "hotline": 30}
MANAGER_ROLES = (Role.AGENT,)


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """A task to create. ``origin`` (e.g. ``decision:2026-10-31``, ``campaign:7``) makes
    creation idempotent per subscriber and channel."""

    subscriber_id: str
    source: str
    origin: str
    channel: str
    campaign_id: int | None = None
    policy_id: str | None = None
    priority: float = 0.0
    due_at: datetime | None = None
    title_zh: str = ""
    title_en: str = ""
    assignee_id: int | None = None
    extra: dict[str, object] = field(default_factory=dict)


def _managers(session: Session, subscriber_ids: Sequence[str]) -> dict[tuple[str, str], int]:
    rows = session.execute(
        select(
            CustomerAssignment.subscriber_id, CustomerAssignment.kind, CustomerAssignment.user_id
        ).where(one_of(session, CustomerAssignment.subscriber_id, subscriber_ids))
    )
    return {(s, k): u for s, k, u in rows}


def _holders(session: Session, subscriber_ids: Sequence[str]) -> dict[tuple[str, str], int]:
    """(subscriber, channel) → the person already holding an open task of theirs there (the
    earliest such task's), so a customer meets one agent per channel, not two."""
    rows = session.execute(
        select(Task.subscriber_id, Task.channel, Task.assignee_id)
        .where(
            one_of(session, Task.subscriber_id, subscriber_ids),
            Task.status == OPEN,
            Task.assignee_id.is_not(None),
        )
        .order_by(Task.id.desc())
    )
    return {(s, c): int(u) for s, c, u in rows if u is not None}  # the earliest task wins


def _route(
    spec: TaskSpec,
    tier: str | None,
    managers: dict[tuple[str, str], int],
    holders: dict[tuple[str, str], int],
) -> int | None:
    if spec.assignee_id is not None:
        return spec.assignee_id
    holder = holders.get((spec.subscriber_id, spec.channel))
    if holder is not None:
        return holder
    account_manager = managers.get((spec.subscriber_id, "account_manager"))
    if account_manager is not None and (
        spec.channel == "account_manager_call" or tier in HIGH_VALUE_TIERS
    ):
        return account_manager
    if spec.channel == "outbound_call":
        return managers.get((spec.subscriber_id, "retention_manager"))
    return None


def create_tasks(session: Session, specs: Iterable[TaskSpec], *, chunk: int = 5000) -> int:
    """Create the tasks not created before (same origin, subscriber and channel); routes each
    (see module doc) and files it under the customer's branch. Returns how many are new."""
    created = 0
    batch: list[TaskSpec] = []
    for spec in specs:
        if spec.channel not in CHANNELS:
            raise InvalidRequestError(f"unknown channel {spec.channel!r}", field="channel")
        batch.append(spec)
        if len(batch) >= chunk:
            created += _create_batch(session, batch)
            batch = []
    if batch:
        created += _create_batch(session, batch)
    return created


def _create_batch(session: Session, specs: list[TaskSpec]) -> int:
    ids = sorted({s.subscriber_id for s in specs})
    customers = {
        sid: (branch, tier)
        for sid, branch, tier in session.execute(
            select(
                CustomerView.subscriber_id, CustomerView.branch_id, CustomerView.value_tier
            ).where(one_of(session, CustomerView.subscriber_id, ids))
        )
    }
    managers = _managers(session, ids)
    holders = _holders(session, ids)
    now = utcnow()
    rows = []
    for spec in specs:
        branch, tier = customers.get(spec.subscriber_id, (None, None))
        rows.append(
            {
                "subscriber_id": spec.subscriber_id,
                "source": spec.source,
                "origin": spec.origin,
                "campaign_id": spec.campaign_id,
                "policy_id": spec.policy_id,
                "channel": spec.channel,
                "branch_id": branch,
                "assignee_id": _route(spec, tier, managers, holders),
                "status": OPEN,
                "priority": spec.priority,
                "title_zh": spec.title_zh,
                "title_en": spec.title_en,
                "due_at": spec.due_at,
                "created_at": now,
            }
        )
    return insert_ignoring_duplicates(session, Task, rows)


def tasks_from_decisions(
    session: Session,
    snapshot: date,
    tz: ZoneInfo,
    now: datetime | None = None,
    *,
    unless: Callable[[QueryableAttribute[str]], ColumnElement[bool]] | None = None,
) -> int:
    """Tasks for the published decisions of ``snapshot`` that act through a person (hold-out
    and no-action rows make none), due at the end of the centre's local day ``DUE_DAYS`` after
    the day they are created (``tasks.due``); re-running the same day creates nothing new.
    ``unless``: SQL true of a decision's subscriber column for customers who get no task (the
    hand-over's: those who objected to automated decisions since the daily run)."""
    rows = session.execute(
        select(
            PublishedDecision.subscriber_id,
            PublishedDecision.policy_id,
            PublishedDecision.channel,
            PublishedDecision.expected_value,
            PublishedDecision.why_zh,
            PublishedDecision.why_en,
        ).where(
            PublishedDecision.snapshot_date == snapshot,
            PublishedDecision.action.is_(True),
            PublishedDecision.holdout.is_(False),
            PublishedDecision.channel.in_(STAFFED_CHANNELS),
            *([] if unless is None else [~unless(PublishedDecision.subscriber_id)]),
        )
    )
    specs = (
        TaskSpec(
            subscriber_id=sid,
            source="decision",
            origin=f"decision:{snapshot.isoformat()}",
            channel=str(channel),
            policy_id=policy,
            priority=float(value or 0.0),
            due_at=deadline_in(DUE_DAYS.get(str(channel), 7), tz, now),
            title_zh=(why_zh or "")[:200],
            title_en=(why_en or "")[:200],
        )
        for sid, policy, channel, value, why_zh, why_en in rows
    )
    return create_tasks(session, specs)


def _agent_loads(session: Session, branch_ids: Iterable[int]) -> dict[int, list[tuple[int, int]]]:
    """Per branch: (open assignments, user id) of its active agents, least loaded first."""
    load = (
        select(CustomerAssignment.user_id, func.count().label("n"))
        .group_by(CustomerAssignment.user_id)
        .subquery()
    )
    rows = session.execute(
        select(User.branch_id, User.id, func.coalesce(load.c.n, 0))
        .outerjoin(load, load.c.user_id == User.id)
        .where(
            User.active.is_(True),
            User.role == Role.AGENT.value,
            User.branch_id.in_(list(branch_ids)),
        )
        .order_by(User.id)
    )
    out: dict[int, list[tuple[int, int]]] = {}
    for branch, user, count in rows:
        out.setdefault(branch, []).append((int(count), user))
    return out


def assign_customers(session: Session) -> dict[str, int]:
    """Give customers their managers (idempotent; existing assignments are kept).

    - account manager: the agent whose display name the data names as 客户经理, in the
      customer's branch or its city branch;
    - arrivals (lifecycle stage ``onboarding``): an outbound manager and a retention manager,
      the least-loaded agents of the customer's branch (else its city branch).
    """
    counts = {"account_manager": 0, "retention_manager": 0, "outbound_manager": 0}
    parents = dict(session.execute(select(Branch.id, Branch.parent_id)).all())
    agents = session.execute(
        select(User.id, User.display_name, User.branch_id).where(
            User.active.is_(True), User.role == Role.AGENT.value
        )
    ).all()
    by_name: dict[tuple[str, int], int] = {(n, b): u for u, n, b in agents}
    existing = {
        (s, k)
        for s, k in session.execute(
            select(CustomerAssignment.subscriber_id, CustomerAssignment.kind)
        )
    }
    now = utcnow()
    new_rows: list[dict[str, object]] = []
    for sid, manager, branch in session.execute(
        select(
            CustomerView.subscriber_id, CustomerView.account_manager, CustomerView.branch_id
        ).where(CustomerView.account_manager.is_not(None))
    ):
        if (sid, "account_manager") in existing or branch is None or manager is None:
            continue
        city = parents.get(branch) or -1
        user = by_name.get((manager, branch)) or by_name.get((manager, city))
        if user is not None:
            new_rows.append(
                {
                    "subscriber_id": sid,
                    "kind": "account_manager",
                    "user_id": user,
                    "assigned_at": now,
                }
            )
            counts["account_manager"] += 1
    arrivals: list[tuple[str, int]] = [
        (sid, branch)
        for sid, branch in session.execute(
            select(CustomerView.subscriber_id, CustomerView.branch_id)
            .where(
                CustomerView.lifecycle_stage == ARRIVAL_STAGE, CustomerView.branch_id.is_not(None)
            )
            .order_by(CustomerView.subscriber_id)
        )
        if branch is not None
    ]
    wanted = {b for _, b in arrivals}
    wanted |= {p for b in wanted if (p := parents.get(b)) is not None}
    loads = _agent_loads(session, wanted)
    for sid, branch in arrivals:
        pool = loads.get(branch) or loads.get(parents.get(branch) or -1)
        if not pool:
            continue
        for kind in ("outbound_manager", "retention_manager"):
            if (sid, kind) in existing:
                continue
            pool.sort()
            count, user = pool[0]
            pool[0] = (count + 1, user)
            new_rows.append(
                {"subscriber_id": sid, "kind": kind, "user_id": user, "assigned_at": now}
            )
            counts[kind] += 1
    insert_ignoring_duplicates(session, CustomerAssignment, new_rows)
    return counts


# --- reading ---------------------------------------------------------------------------------


def get_task(session: Session, actor: Actor, task_id: int) -> Task:
    """One task within the actor's scope (404 otherwise, alike for missing and hidden)."""
    task = session.scalar(select(Task).where(Task.id == task_id, task_scope_clause(actor)))
    if task is None:
        raise NotFoundError(f"task {task_id} not found")
    return task


# --- changing ---------------------------------------------------------------------------------

#: roles that may move tasks between agents, branches and channels beyond their own tasks
DISPATCHERS = (Role.SHIFT_LEAD, Role.CENTRE_HEAD, Role.DIRECTOR)


def claim_task(session: Session, actor: Actor, task_id: int) -> Task:
    """An agent (or clerk) takes an open queued task of their branch. Two taking the same
    task at once: one gets it, the other a :class:`ConflictError` (see :func:`_transfer`)."""
    actor.require_customer_work()
    task = session.scalar(
        select(Task).where(Task.id == task_id, task_scope_clause(actor)).with_for_update()
    )
    if task is None:
        raise NotFoundError(f"task {task_id} not found")
    if task.status != OPEN or task.assignee_id is not None:
        raise InvalidRequestError("only an open task in a queue can be claimed", field="task_id")
    _transfer(
        session,
        actor,
        task,
        to_user=actor.user_id,
        to_branch=task.branch_id,
        to_channel=task.channel,
        reason="claimed",
    )
    return task


def transfer_task(
    session: Session,
    actor: Actor,
    task_id: int,
    *,
    to_user_id: int | None = None,
    to_branch_id: int | None = None,
    to_channel: str | None = None,
    reason: str | None = None,
) -> Task:
    """Move a task to another agent, another branch's queue (e.g. a store) or channel.

    The assignee may hand their own task on; shift leads, centre heads and the director may
    move any task they can see. The new agent must be active and inside the mover's view.
    """
    task = session.scalar(
        select(Task).where(Task.id == task_id, task_scope_clause(actor)).with_for_update()
    )
    if task is None:
        raise NotFoundError(f"task {task_id} not found")
    if task.status != OPEN:
        raise InvalidRequestError("only open tasks can be transferred", field="task_id")
    if actor.role not in DISPATCHERS and task.assignee_id != actor.user_id:
        raise PermissionDeniedError("only the assignee or a dispatcher may transfer this task")
    if to_user_id is None and to_branch_id is None and to_channel is None:
        raise InvalidRequestError("name an agent, a branch or a channel", field="to_user_id")
    if to_channel is not None and to_channel not in CHANNELS:
        raise InvalidRequestError(f"unknown channel {to_channel!r}", field="to_channel")
    branch = to_branch_id if to_branch_id is not None else task.branch_id
    if to_branch_id is not None and session.get(Branch, to_branch_id) is None:
        raise InvalidRequestError(f"branch {to_branch_id} does not exist", field="to_branch_id")
    if to_user_id is not None:
        user = session.get(User, to_user_id)
        visible = (
            session.scalar(
                select(User.id).where(User.id == to_user_id, colleague_clause(actor, User.id))
            )
            if actor.scope is not Scope.ALL
            else to_user_id
        )
        works_tasks = user is not None and user.role in {r.value for r in TRANSFER_TARGET_ROLES}
        if user is None or not user.active or visible is None or not works_tasks:
            raise InvalidRequestError(
                f"user {to_user_id} cannot take this task", field="to_user_id"
            )
        if to_branch_id is None:
            branch = user.branch_id if task.branch_id is None else task.branch_id
    _transfer(
        session,
        actor,
        task,
        to_user=to_user_id,
        to_branch=branch,
        to_channel=to_channel or task.channel,
        reason=reason,
    )
    return task


def _transfer(
    session: Session,
    actor: Actor,
    task: Task,
    *,
    to_user: int | None,
    to_branch: int | None,
    to_channel: str,
    reason: str | None,
) -> None:
    """Move ``task`` as read to the new assignee, branch and channel, by conditional update:
    only if it is still open with the assignee, branch and channel read (the ``FOR UPDATE``
    of the callers holds on PostgreSQL only); a :class:`ConflictError` when another
    transaction claimed or moved it first."""
    before = {"assignee_id": task.assignee_id, "branch_id": task.branch_id, "channel": task.channel}
    moved = transition(
        session,
        Task,
        task.id,
        {"status": OPEN, **before},
        {"assignee_id": to_user, "branch_id": to_branch, "channel": to_channel},
    )
    if not moved:
        raise ConflictError(f"task {task.id} was claimed or moved meanwhile; reload it")
    session.add(
        TaskTransfer(
            task_id=task.id,
            at=utcnow(),
            by_user_id=actor.user_id,
            from_user_id=before["assignee_id"],
            to_user_id=to_user,
            from_branch_id=before["branch_id"],
            to_branch_id=to_branch,
            from_channel=before["channel"],
            to_channel=to_channel,
            reason=reason,
        )
    )
    session.flush()


def transfers_of(session: Session, actor: Actor, task_id: int) -> Sequence[TaskTransfer]:
    """The transfer history of a task in scope, oldest first."""
    get_task(session, actor, task_id)
    return session.scalars(
        select(TaskTransfer).where(TaskTransfer.task_id == task_id).order_by(TaskTransfer.id)
    ).all()
