"""The shift lead's figures: the team board (tasks and contacts per agent today against the
daily standard) and the contacts a quality inspector may sample and score.

Every query is limited to the agents whose work the actor sees (:func:`user_scope_clause`:
shift lead the team, centre head the branches, director everyone) and, for tasks, to
:func:`task_scope_clause`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, exists, func, select
from sqlalchemy.orm import Session

from weiwan.ops.appraisal.scheme import DEFAULT_STANDARD, current_scheme
from weiwan.ops.base import as_utc, utcnow
from weiwan.ops.contacts.models import Acceptance, Contact, ContactOutcome, QualityInspection
from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import User
from weiwan.ops.org.roles import Role
from weiwan.ops.scope import task_scope_clause, user_scope_clause
from weiwan.ops.tasks.due import OPEN, day_bounds, due_today_clause, overdue_clause
from weiwan.ops.tasks.models import Task

#: who reads the team board and inspects quality
BOARD_READERS = (Role.SHIFT_LEAD, Role.CENTRE_HEAD, Role.DIRECTOR)
#: the roles listed on the board (agents / account managers work the task lists)
BOARD_ROLES = (Role.AGENT,)
#: contacts an agent should make a day (PRODUCT.md: ≥10 customer contacts a day) unless the
#: the appraisal scheme sets the role's standard (``daily_contact_standard``)
DAILY_CONTACT_STANDARD = DEFAULT_STANDARD
#: outcomes that mean the customer was reached (接通): the rest are not_reached, wrong_number
REACHED_OUTCOMES = ("connected", "refused", "accepted", "call_back")
SENT = "sent"
DONE = "done"
#: most contacts per agent a sample is drawn from (the newest first)
SAMPLE_POOL = 2_000


def team_agents(session: Session, actor: Actor) -> Sequence[User]:
    """The active agents whose work the actor sees, by name."""
    actor.require(*BOARD_READERS)
    return session.scalars(
        select(User)
        .where(
            User.active.is_(True),
            User.role.in_([r.value for r in BOARD_ROLES]),
            user_scope_clause(actor, User.id),
        )
        .order_by(User.display_name, User.id)
    ).all()


@dataclass(frozen=True, slots=True)
class AgentDay:
    """One agent's row of the team board."""

    user_id: int
    username: str
    display_name: str
    open_tasks: int
    due_today: int
    overdue: int
    done_today: int
    contacts_today: int
    reached_today: int
    acceptances_today: int
    #: the configured daily contact standard of the agent's role
    standard: int = DAILY_CONTACT_STANDARD

    @property
    def connect_rate(self) -> float | None:
        """Reached ÷ contacts today (None without contacts)."""
        return self.reached_today / self.contacts_today if self.contacts_today else None

    @property
    def below_standard(self) -> bool:
        """Fewer contacts today than the daily standard."""
        return self.contacts_today < self.standard


def _counts(
    session: Session,
    key: Any,
    *columns: Any,
    where: list[ColumnElement[bool]],
) -> dict[int, tuple[int, ...]]:
    rows = session.execute(select(key, *columns).where(*where).group_by(key)).all()
    return {int(row[0]): tuple(int(v or 0) for v in row[1:]) for row in rows}


def team_board(
    session: Session, actor: Actor, day: date, tz: ZoneInfo, now: datetime | None = None
) -> list[AgentDay]:
    """The board of ``day`` (local): per agent open tasks, due that day and still ahead,
    overdue (open and due before ``now``; both as the workbench counts them, ``tasks.due``),
    done that day, contacts sent that day, of which reached, and acceptances recorded that day
    (not cancelled)."""
    agents = team_agents(session, actor)
    ids = [a.id for a in agents]
    if not ids:
        return []
    start, end = day_bounds(day, tz)
    moment = as_utc(now or utcnow())
    is_open = Task.status == OPEN
    tasks = _counts(
        session,
        Task.assignee_id,
        func.sum(case((is_open, 1), else_=0)),
        func.sum(case((due_today_clause(moment, tz, day), 1), else_=0)),
        func.sum(case((overdue_clause(moment), 1), else_=0)),
        func.sum(
            case(
                (and_(Task.status == DONE, Task.closed_at >= start, Task.closed_at < end), 1),
                else_=0,
            )
        ),
        where=[Task.assignee_id.in_(ids), task_scope_clause(actor)],
    )
    reached = (
        select(ContactOutcome.contact_id)
        .where(ContactOutcome.outcome.in_(REACHED_OUTCOMES))
        .scalar_subquery()
    )
    contacts = _counts(
        session,
        Contact.user_id,
        func.count(),
        func.sum(case((Contact.id.in_(reached), 1), else_=0)),
        where=[
            Contact.user_id.in_(ids),
            Contact.status == SENT,
            Contact.at >= start,
            Contact.at < end,
        ],
    )
    accepted = _counts(
        session,
        Acceptance.user_id,
        func.count(),
        where=[
            Acceptance.user_id.in_(ids),
            Acceptance.status != "cancelled",
            Acceptance.at >= start,
            Acceptance.at < end,
        ],
    )
    standards = current_scheme(session)
    board: list[AgentDay] = []
    for agent in agents:
        t = tasks.get(agent.id, (0, 0, 0, 0))
        c = contacts.get(agent.id, (0, 0))
        board.append(
            AgentDay(
                user_id=agent.id,
                username=agent.username,
                display_name=agent.display_name,
                open_tasks=t[0],
                due_today=t[1],
                overdue=t[2],
                done_today=t[3],
                contacts_today=c[0],
                reached_today=c[1],
                acceptances_today=accepted.get(agent.id, (0,))[0],
                standard=standards.standard(agent.role),
            )
        )
    return board


def open_tasks_of(
    session: Session, actor: Actor, agent_id: int, limit: int = 500
) -> Sequence[Task]:
    """An agent's open tasks in the actor's scope, most urgent first."""
    actor.require(*BOARD_READERS)
    return session.scalars(
        select(Task)
        .where(
            Task.assignee_id == agent_id,
            Task.status == OPEN,
            task_scope_clause(actor),
            user_scope_clause(actor, Task.assignee_id),
        )
        .order_by(Task.due_at.asc().nulls_last(), Task.priority.desc(), Task.id)
        .limit(limit)
    ).all()


# --- quality inspection ---------------------------------------------------------------------


def sample_contacts(
    session: Session,
    actor: Actor,
    since: datetime,
    until: datetime,
    *,
    per_agent: int,
    seed: int,
    agent_id: int | None = None,
) -> list[Contact]:
    """A random sample of up to ``per_agent`` conversations per agent made in [since, until)
    by agents whose work the actor sees: sent contacts that reached the customer (an outcome
    among ``REACHED_OUTCOMES``; an unanswered call has nothing to inspect); the same ``seed``
    draws the same sample."""
    reached = exists().where(
        ContactOutcome.contact_id == Contact.id, ContactOutcome.outcome.in_(REACHED_OUTCOMES)
    )
    agents = [a.id for a in team_agents(session, actor)]
    if agent_id is not None:
        agents = [a for a in agents if a == agent_id]
    rng = random.Random(seed)
    chosen: list[int] = []
    for agent in agents:
        pool = list(
            session.scalars(
                select(Contact.id)
                .where(
                    Contact.user_id == agent,
                    Contact.status == SENT,
                    Contact.at >= as_utc(since),
                    Contact.at < as_utc(until),
                    reached,
                )
                .order_by(Contact.at.desc(), Contact.id.desc())
                .limit(SAMPLE_POOL)
            )
        )
        chosen.extend(rng.sample(pool, min(per_agent, len(pool))))
    if not chosen:
        return []
    return list(
        session.scalars(
            select(Contact)
            .where(Contact.id.in_(chosen), user_scope_clause(actor, Contact.user_id))
            .order_by(Contact.user_id, Contact.at.desc(), Contact.id)
        )
    )


def inspections(
    session: Session, actor: Actor, since: datetime, until: datetime
) -> list[tuple[QualityInspection, Contact]]:
    """Inspections made in [since, until) of contacts by agents the actor sees, newest first."""
    actor.require(*BOARD_READERS)
    rows = session.execute(
        select(QualityInspection, Contact)
        .join(Contact, Contact.id == QualityInspection.contact_id)
        .where(
            Contact.user_id.is_not(None),
            user_scope_clause(actor, Contact.user_id),
            QualityInspection.at >= as_utc(since),
            QualityInspection.at < as_utc(until),
        )
        .order_by(QualityInspection.at.desc(), QualityInspection.id.desc())
    ).all()
    return [(row[0], row[1]) for row in rows]


def inspections_of_contacts(
    session: Session, contact_ids: Sequence[int]
) -> dict[int, QualityInspection]:
    """The latest inspection of each contact (only contacts already in the actor's sample)."""
    found: dict[int, QualityInspection] = {}
    if contact_ids:
        for row in session.scalars(
            select(QualityInspection)
            .where(QualityInspection.contact_id.in_(contact_ids))
            .order_by(QualityInspection.id)
        ):
            found[row.contact_id] = row
    return found


@dataclass(frozen=True, slots=True)
class AgentScore:
    """One agent's quality inspections in a period: how many, and their mean score."""

    agent_id: int
    inspections: int
    average: float


def score_averages(inspected: Sequence[tuple[QualityInspection, Contact]]) -> list[AgentScore]:
    """Per agent whose contacts were inspected (the rows of :func:`inspections`): the number of
    inspections and their mean score, by agent id; agents without an inspection are left out
    (no average of nothing)."""
    scores: dict[int, list[int]] = {}
    for inspection, contact in inspected:
        if contact.user_id is not None:
            scores.setdefault(contact.user_id, []).append(inspection.score)
    return [
        AgentScore(agent_id, len(values), sum(values) / len(values))
        for agent_id, values in sorted(scores.items())
    ]
