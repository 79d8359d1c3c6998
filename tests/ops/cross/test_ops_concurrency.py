"""Concurrent acceptance and concurrent dispatch on PostgreSQL: exactly one wins, caps hold."""

from __future__ import annotations

import functools
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select, update

from customer_fixtures import publish_customers, publish_rules
from weiwan.core.db import session_scope
from weiwan.core.errors import ConflictError, WeiwanError
from weiwan.ops.contacts.models import Acceptance, Contact
from weiwan.ops.contacts.schemas import CallIn, OutcomeIn
from weiwan.ops.contacts.service import record_call, record_system_contact
from weiwan.ops.org.access import actor_for
from weiwan.ops.org.models import User
from weiwan.ops.tasks.models import Task, TaskTransfer
from weiwan.ops.tasks.service import TaskSpec, claim_task, create_tasks

from ..race import race

TZ = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 11, 24, 10, 0, tzinfo=TZ)


@pytest.mark.parametrize(
    "empty_engine", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_two_channels_accepting_at_once_exactly_one_wins(
    engine: Engine, branches: dict[str, int], people: dict[str, int]
) -> None:
    publish_customers(engine, branches["city"], 1)
    publish_rules(engine, {})
    with session_scope(engine) as session:
        create_tasks(
            session,
            [
                TaskSpec(
                    subscriber_id="S00001",
                    source="manual",
                    origin="r",
                    channel=channel,
                    policy_id="keep168",
                )
                for channel in ("store", "hotline")
            ],
        )
        tasks = {t.channel: t.id for t in session.scalars(select(Task))}

    def accept(username: str, channel: str) -> int:
        with session_scope(engine) as session:
            user = session.scalar(select(User).where(User.username == username))
            assert user is not None
            body = CallIn(
                subscriber_id="S00001",
                channel=channel,
                task_id=tasks[channel],
                outcomes=[OutcomeIn(outcome="accepted")],
                at=AT,
            )
            record = record_call(session, actor_for(session, user), body, tz=TZ)
            assert record.acceptance is not None
            return record.acceptance.id

    for _ in range(3):  # several rounds: each must have exactly one winner
        with session_scope(engine) as session:
            for acceptance in session.scalars(select(Acceptance)):
                acceptance.status = "cancelled"
            for task in session.scalars(select(Task)):
                task.status, task.closed_reason = "open", None
        results = race([lambda: accept("clerk", "store"), lambda: accept("hotline", "hotline")])
        wins = [r for r in results if isinstance(r, int)]
        losses = [r for r in results if isinstance(r, ConflictError)]
        assert len(wins) == 1 and len(losses) == 1, results
        with session_scope(engine) as session:
            active = session.scalar(
                select(func.count()).select_from(Acceptance).where(Acceptance.status == "active")
            )
            statuses = sorted(session.scalars(select(Task.status)))
        assert active == 1
        assert statuses == ["closed", "done"]  # the loser's task was closed by the winner


@pytest.mark.parametrize(
    "empty_engine", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_concurrent_dispatch_never_exceeds_the_caps(
    engine: Engine, branches: dict[str, int]
) -> None:
    ids = publish_customers(engine, branches["city"], 20)
    publish_rules(
        engine,
        {
            "channels": {"sms": {"caps": {"day": 1}}, "outbound_call": {"caps": {"day": 1}}},
            "cross_channel_caps": {"day": 1},
        },
    )

    def dispatch(sid: str, channel: str) -> bool:
        with session_scope(engine) as session:
            _contact, verdict = record_system_contact(session, sid, channel, tz=TZ, at=AT)
            return verdict.allowed

    channels = ("sms", "sms", "outbound_call", "sms")
    for sid in ids:  # four channels hit each subscriber at the same moment
        results = race([functools.partial(dispatch, sid, c) for c in channels])
        assert sorted(map(str, results)) == ["False", "False", "False", "True"], results
    with session_scope(engine) as session:
        per_subscriber = session.execute(
            select(Contact.subscriber_id, func.count())
            .where(Contact.status == "sent")
            .group_by(Contact.subscriber_id)
        ).all()
        blocked = session.scalar(select(func.count()).where(Contact.status == "blocked"))
    assert sorted(n for _, n in per_subscriber) == [1] * len(ids)
    assert blocked == 3 * len(ids)


@pytest.mark.parametrize(
    "empty_engine", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_concurrent_calls_are_checked_against_the_caps_one_after_the_other(
    engine: Engine, branches: dict[str, int], people: dict[str, int]
) -> None:
    """Agents' calls (record_call: on PostgreSQL the lock and the reads are separate
    statements, so the reads see the contact of the transaction the lock waited for): every
    call that took place is recorded, and exactly those past the cap are flagged."""
    ids = publish_customers(engine, branches["city"], 8)
    publish_rules(
        engine, {"channels": {"outbound_call": {"caps": {"day": 1}}}, "cross_channel_caps": {}}
    )

    def call(sid: str, username: str) -> str:
        with session_scope(engine) as session:
            user = session.scalar(select(User).where(User.username == username))
            assert user is not None
            body = CallIn(
                subscriber_id=sid,
                channel="outbound_call",
                outcomes=[OutcomeIn(outcome="connected")],
                at=AT,
            )
            record = record_call(session, actor_for(session, user), body, tz=TZ)
            return record.contact.over_rule or "within"

    for sid in ids:  # three callers ring each subscriber at the same moment
        results = race([functools.partial(call, sid, u) for u in ("director", "head", "hotline")])
        assert sorted(map(str, results)) == ["cap_day", "cap_day", "within"], results
    with session_scope(engine) as session:
        sent = session.scalar(select(func.count()).where(Contact.status == "sent"))
        within = session.scalar(select(func.count()).where(Contact.over_rule.is_(None)))
    assert sent == 3 * len(ids) and within == len(ids)


def test_agents_claiming_one_queued_task_at_once_exactly_one_gets_it(
    engine: Engine, branches: dict[str, int], people: dict[str, int]
) -> None:
    """Three agents of the branch take the same queued task at the same moment, round after
    round, each in a session of their own: one gets it, the others an error, on SQLite (where
    FOR UPDATE is a no-op) and on PostgreSQL."""
    publish_customers(engine, branches["city"], 1)
    with session_scope(engine) as session:
        create_tasks(
            session,
            [
                TaskSpec(
                    subscriber_id="S00001",
                    source="manual",
                    origin="q",
                    channel="store",
                )
            ],
        )
        task_id = session.scalars(select(Task.id)).one()

    def claim(username: str) -> int | None:
        with session_scope(engine) as session:
            user = session.scalar(select(User).where(User.username == username))
            assert user is not None
            return claim_task(session, actor_for(session, user), task_id).assignee_id

    claimers = ("agent", "agent2", "clerk")
    for round_ in range(8):
        with session_scope(engine) as session:
            session.execute(update(Task).where(Task.id == task_id).values(assignee_id=None))
        results = race([functools.partial(claim, u) for u in claimers])
        wins = [r for r in results if isinstance(r, int)]
        assert len(wins) == 1, (round_, results)
        assert all(isinstance(r, WeiwanError) for r in results if r not in wins), results
        with session_scope(engine) as session:
            task = session.get(Task, task_id)
            assert task is not None and task.assignee_id == wins[0]
            transfers = session.scalar(select(func.count()).select_from(TaskTransfer))
        assert transfers == round_ + 1  # one claim recorded per round, never two
