"""Recording a call: the PostgreSQL path (three statements, ``contacts.record_pg``) and the
generic path (``contacts.service.record_call_generic``) store and answer alike.

Each scenario runs from the same state on each path inside a transaction that is rolled back;
ids, which sequences hand out anew after a rollback, are compared by their order. On SQLite only
the generic path exists: the scenarios' expected outcomes are checked there too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from customer_fixtures import customer, policy, publish_customers, publish_rules
from weiwan.core.db import session_scope
from weiwan.core.errors import WeiwanError
from weiwan.ops.campaigns.models import Campaign
from weiwan.ops.consents.service import Statement, record_statements
from weiwan.ops.contacts import record_pg
from weiwan.ops.contacts.models import Acceptance, Contact, ContactOutcome, DoNotDisturb
from weiwan.ops.contacts.records import CallRecord
from weiwan.ops.contacts.schemas import CallIn
from weiwan.ops.contacts.service import record_call, record_call_generic
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.org.access import actor_for
from weiwan.ops.org.models import User
from weiwan.ops.tasks.models import Task
from weiwan.ops.tasks.service import TaskSpec, create_tasks

TZ = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 11, 24, 10, 0, tzinfo=TZ)
RULES = {
    "channels": {
        "outbound_call": {
            "caps": {"day": 1, "week": 2},
            "quiet_hours": {"start": "21:00", "end": "09:00"},
        },
        "sms": {"caps": {"day": 1}},
        "store": {"inbound": True},
        "hotline": {"inbound": True},
        "self_service": {"inbound": True},
    },
    "cross_channel_caps": {"day": 2},
    "cool_off_days": 7,
}
Path = Callable[..., CallRecord]


@dataclass
class World:
    """Task ids by name and the campaign's id."""

    tasks: dict[str, int] = field(default_factory=dict)
    campaign: int = 0


def _task(sid: str, channel: str, origin: str, **extra: Any) -> TaskSpec:
    return TaskSpec(subscriber_id=sid, source="manual", origin=origin, channel=channel, **extra)


@pytest.fixture
def world(engine: Engine, branches: dict[str, int], people: dict[str, int]) -> World:
    """Customers S00001–S00006 of the city branch, S00009 of the other; open tasks, history,
    do-not-disturb wishes, an earlier acceptance, an expired policy and a campaign."""
    publish_customers(engine, branches["city"], 6)
    publish_rules(engine, RULES)
    made = World()
    with session_scope(engine) as session:
        session.add(customer("S00009", branches["other"]))
        session.add(policy("old", valid_to=date(2025, 12, 31)))
        first = session.get(CustomerView, "S00001")
        assert first is not None
        first.eligible_policies = " keep168 data10 care_call old "
        campaign = Campaign(
            name="挽留",
            branch_id=branches["city"],
            target_filter="{}",
            policy_ids=" care_call ",
            channels=" sms ",
            holdout_share=0.1,
            created_by=people["director"],
        )
        session.add(campaign)
        session.flush()
        made.campaign = campaign.id
        create_tasks(
            session,
            [
                _task("S00001", "store", "a", policy_id="keep168"),
                _task(
                    "S00001", "outbound_call", "a", policy_id="keep168", assignee_id=people["agent"]
                ),
                _task("S00001", "hotline", "a", policy_id="data10"),
                _task("S00001", "sms", "a", policy_id="care_call", campaign_id=campaign.id),
                _task("S00001", "self_service", "a", policy_id="data10", campaign_id=campaign.id),
                _task("S00002", "store", "b"),
                _task(
                    "S00003", "outbound_call", "c", policy_id="keep168", assignee_id=people["agent"]
                ),
                _task("S00003", "store", "c", policy_id="keep168"),
                _task("S00004", "store", "d", policy_id="keep168"),
                _task("S00009", "store", "e", policy_id="keep168"),
            ],
        )
        session.flush()
        for t in session.scalars(select(Task)):
            made.tasks[f"{t.subscriber_id}:{t.channel}"] = t.id
        done = session.get(Task, made.tasks["S00004:store"])
        assert done is not None
        done.status, done.closed_reason = "done", "connected"
        _history(session, people)
    return made


def _history(session: Session, people: dict[str, int]) -> None:
    """S00003: an outbound call this morning; S00005: a refusal three days ago; S00006 does
    not want SMS or any proactive contact; S00002 accepted data10 last week and objects to
    outbound calls since yesterday (the consent ledger)."""
    rows = [
        ("S00003", AT - timedelta(hours=1), "outbound_call", ["connected"]),
        ("S00005", AT - timedelta(days=3), "sms", ["refused"]),
        ("S00005", AT - timedelta(days=40), "outbound_call", ["refused"]),
        ("S00002", AT - timedelta(days=6), "store", ["connected", "accepted"]),
    ]
    for sid, at, channel, outcomes in rows:
        contact = Contact(
            subscriber_id=sid, at=at, channel=channel, status="sent", user_id=people["agent"]
        )
        session.add(contact)
        session.flush()
        for outcome in outcomes:
            reason = "价格" if outcome == "refused" else None
            policy_id = "data10" if outcome == "accepted" else None
            session.add(
                ContactOutcome(
                    contact_id=contact.id,
                    outcome=outcome,
                    refusal_reason=reason,
                    policy_id=policy_id,
                )
            )
        if "accepted" in outcomes:
            session.add(
                Acceptance(
                    subscriber_id=sid,
                    policy_id="data10",
                    contact_id=contact.id,
                    channel=channel,
                    at=at,
                    status="active",
                    cost=120.0,
                )
            )
    session.add(DoNotDisturb(subscriber_id="S00006", channel="sms"))
    session.add(DoNotDisturb(subscriber_id="S00006", channel="all"))
    objection = Statement(
        "S00002", "outbound_call", "all", "objection", "agent", AT - timedelta(days=1)
    )
    record_statements(session, [objection], recorded_by=people["agent"])


def _accept(policy_id: str | None = None) -> dict[str, Any]:
    return {"outcome": "accepted", "policy_id": policy_id}


#: (name, user, body without ``at`` and task ids as names, the expected result in short)
SCENARIOS: list[tuple[str, str, dict[str, Any], str]] = [
    ("accept the task's policy", "clerk",
     {"subscriber_id": "S00001", "channel": "store", "task": "S00001:store",
      "outcomes": [{"outcome": "connected"}, _accept()]}, "sent, closed 1"),
    ("accept by campaign", "clerk",
     {"subscriber_id": "S00001", "channel": "store", "task": "S00001:store",
      "campaign": True, "outcomes": [_accept("care_call")]}, "sent, closed 2"),
    ("accept without a task", "director",
     {"subscriber_id": "S00001", "channel": "hotline", "policy_id": "data10",
      "outcomes": [_accept()], "note": "来电办理"}, "sent, closed 2"),
    ("accept a policy given twice", "clerk",
     {"subscriber_id": "S00001", "channel": "store", "task": "S00001:store",
      "policy_id": "care_call", "outcomes": [_accept("data10")]}, "sent, closed 2"),
    ("accept an ineligible policy", "clerk",
     {"subscriber_id": "S00001", "channel": "store", "outcomes": [_accept("gold")]},
     "InvalidRequestError"),
    ("accept an expired policy", "clerk",
     {"subscriber_id": "S00001", "channel": "store", "outcomes": [_accept("old")]},
     "InvalidRequestError"),
    ("accept without a policy", "clerk",
     {"subscriber_id": "S00002", "channel": "store", "task": "S00002:store",
      "outcomes": [_accept()]}, "InvalidRequestError"),
    ("accept again", "clerk",
     {"subscriber_id": "S00002", "channel": "store", "outcomes": [_accept("data10")]},
     "ConflictError"),
    ("not reached", "agent",
     {"subscriber_id": "S00001", "channel": "outbound_call", "task": "S00001:outbound_call",
      "outcomes": [{"outcome": "not_reached"}]}, "sent"),
    ("call back", "agent",
     {"subscriber_id": "S00001", "channel": "outbound_call", "task": "S00001:outbound_call",
      "outcomes": [{"outcome": "connected"},
                   {"outcome": "call_back", "call_back_at": "2026-11-26T15:00:00+08:00"}]},
     "sent"),
    ("refused", "lead",
     {"subscriber_id": "S00001", "channel": "outbound_call", "task": "S00001:outbound_call",
      "outcomes": [{"outcome": "connected"},
                   {"outcome": "refused", "refusal_reason": "太贵"}]}, "sent"),
    ("no outcome", "clerk",
     {"subscriber_id": "S00001", "channel": "store", "task": "S00001:store"}, "sent"),
    ("cap of the day", "agent",
     {"subscriber_id": "S00003", "channel": "outbound_call", "task": "S00003:outbound_call",
      "outcomes": [_accept()]}, "blocked cap_day"),
    ("inbound after an outbound call", "clerk",
     {"subscriber_id": "S00003", "channel": "store", "task": "S00003:store",
      "outcomes": [_accept()]}, "sent, closed 1"),
    ("cool-off", "director",
     {"subscriber_id": "S00005", "channel": "sms", "outcomes": []}, "blocked cool_off"),
    ("cool-off across channels", "director",
     {"subscriber_id": "S00005", "channel": "outbound_call", "outcomes": []},
     "blocked cool_off"),
    ("inbound despite a refusal", "clerk",
     {"subscriber_id": "S00005", "channel": "store", "outcomes": [{"outcome": "connected"}]},
     "sent"),
    ("do not disturb", "director",
     {"subscriber_id": "S00006", "channel": "sms"}, "blocked dnd"),
    ("do not disturb, all", "director",
     {"subscriber_id": "S00006", "channel": "outbound_call"}, "blocked dnd"),
    ("objection to calls", "director",
     {"subscriber_id": "S00002", "channel": "account_manager_call"}, "blocked objection"),
    ("objection to calls, not to SMS", "director",
     {"subscriber_id": "S00002", "channel": "sms"}, "sent"),
    ("inbound despite an objection", "clerk",
     {"subscriber_id": "S00002", "channel": "store", "task": "S00002:store"}, "sent"),
    ("inbound despite all", "director",
     {"subscriber_id": "S00006", "channel": "hotline", "outcomes": [_accept("keep168")]},
     "sent, closed 0"),
    ("quiet hours", "director",
     {"subscriber_id": "S00001", "channel": "outbound_call", "hour": 22,
      "outcomes": [_accept("keep168")]}, "blocked quiet_hours"),
    ("task of another subscriber", "clerk",
     {"subscriber_id": "S00002", "channel": "store", "task": "S00001:store"},
     "InvalidRequestError"),
    ("task already done", "clerk",
     {"subscriber_id": "S00004", "channel": "store", "task": "S00004:store"}, "ConflictError"),
    ("no such task", "clerk",
     {"subscriber_id": "S00001", "channel": "store", "task_id": 999_999}, "NotFoundError"),
    ("task out of scope", "clerk",
     {"subscriber_id": "S00001", "channel": "store", "task": "S00009:store"}, "NotFoundError"),
    ("customer of another agent", "agent2",
     {"subscriber_id": "S00001", "channel": "outbound_call"}, "NotFoundError"),
    ("customer out of scope", "clerk",
     {"subscriber_id": "S00009", "channel": "store", "task": "S00009:store"}, "NotFoundError"),
    ("customer unknown", "director",
     {"subscriber_id": "S99999", "channel": "store"}, "NotFoundError"),
    ("agent's own customer", "agent",
     {"subscriber_id": "S00001", "channel": "outbound_call", "task": "S00001:outbound_call",
      "outcomes": [_accept()]}, "sent, closed 1"),
    ("agent, customer not theirs", "agent",
     {"subscriber_id": "S00002", "channel": "outbound_call"}, "NotFoundError"),
]  # fmt: skip


def _body(world: World, spec: dict[str, Any]) -> CallIn:
    values = {k: v for k, v in spec.items() if k not in ("task", "campaign", "hour")}
    if "task" in spec:
        values["task_id"] = world.tasks[spec["task"]]
    if spec.get("campaign"):
        values["campaign_id"] = world.campaign
    values["at"] = AT.replace(hour=spec.get("hour", AT.hour))
    return CallIn.model_validate(values)


def _columns(model: type[Contact] | type[Acceptance]) -> list[str]:
    return [column.key for column in model.__table__.columns]


def _record(record: CallRecord) -> dict[str, Any]:
    """What the path answered, with the new contact's id as ``C``."""
    contact = record.contact
    acceptance = record.acceptance
    return {
        "contact": {c: getattr(contact, c) for c in _columns(Contact) if c != "id"},
        "outcomes": [
            (o.contact_id == contact.id, o.outcome, o.refusal_reason, o.call_back_at, o.policy_id)
            for o in record.outcomes
        ],
        "outcome_ids_ascending": [o.id for o in record.outcomes]
        == sorted(o.id for o in record.outcomes),
        "acceptance": None
        if acceptance is None
        else {
            c: getattr(acceptance, c) for c in _columns(Acceptance) if c not in ("id", "contact_id")
        }
        | {"of_contact": acceptance.contact_id == contact.id},
        "closed": record.closed_task_ids,
        "verdict": record.verdict,
    }


def _stored(session: Session, floor: dict[str, int], contact_id: int | None) -> dict[str, Any]:
    """What the transaction stored: new rows (ids left out) and every task's state."""
    new = f"(contact {contact_id})"

    def rows(statement: str, key: str) -> list[tuple[Any, ...]]:
        result = session.execute(text(statement), {"floor": floor[key]}).all()
        return [tuple(r) for r in result]

    return {
        "contacts": rows(
            "SELECT subscriber_id, at, channel, status, blocked_reason, task_id, campaign_id, "
            "policy_id, user_id, note FROM contacts WHERE id > :floor ORDER BY id",
            "contacts",
        ),
        "outcomes": rows(
            "SELECT outcome, refusal_reason, call_back_at, policy_id FROM contact_outcomes "
            "WHERE id > :floor ORDER BY id",
            "contact_outcomes",
        ),
        "acceptances": rows(
            "SELECT subscriber_id, policy_id, campaign_id, channel, user_id, at, status, cost "
            "FROM acceptances WHERE id > :floor ORDER BY id",
            "acceptances",
        ),
        "tasks": [
            (t.id, t.status, t.due_at, t.closed_at, (t.closed_reason or "").replace(new, "(C)"))
            for t in session.scalars(select(Task).order_by(Task.id))
        ],
        "locks": session.execute(
            text("SELECT subscriber_id FROM subscriber_locks ORDER BY subscriber_id")
        ).all(),
    }


def _run(engine: Engine, path: Path, username: str, body: CallIn) -> dict[str, Any]:
    """The path's answer (or error) and what it stored, rolled back afterwards."""
    with Session(engine) as session:
        floor = {
            table: session.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()
            for table in ("contacts", "contact_outcomes", "acceptances")
        }
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        actor = actor_for(session, user)
        try:
            record = path(session, actor, body, tz=TZ)
        except WeiwanError as exc:
            session.rollback()
            return {"error": (type(exc).__name__, str(exc), getattr(exc, "field", None))}
        answer = _record(record)
        stored = _stored(session, floor, record.contact.id)
        session.rollback()
        return {"answer": answer, "stored": stored}


def _short(result: dict[str, Any]) -> str:
    """``sent, closed 2``, ``blocked cap_day``, ``ConflictError``."""
    if "error" in result:
        return str(result["error"][0])
    answer = result["answer"]
    if not answer["verdict"].allowed:
        return f"blocked {answer['verdict'].reason}"
    closed = "" if answer["acceptance"] is None else f", closed {len(answer['closed'])}"
    return "sent" + closed


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_both_paths_record_alike(
    engine: Engine, world: World, scenario: tuple[str, str, dict[str, Any], str]
) -> None:
    _name, username, spec, expected = scenario
    body = _body(world, spec)
    generic = _run(engine, record_call_generic, username, body)
    assert _short(generic) == expected, generic
    if engine.dialect.name == "postgresql":
        fast = _run(engine, record_pg.record_call_pg, username, body)
        assert fast == generic
    dispatched = _run(engine, record_call, username, body)  # what callers get on this database
    assert dispatched == generic


def test_closure_reason_names_the_contact(engine: Engine, world: World) -> None:
    """The tasks an acceptance closes say in which channel and by which contact."""
    body = _body(world, SCENARIOS[0][2])
    with session_scope(engine) as session:
        user = session.scalar(select(User).where(User.username == "clerk"))
        assert user is not None
        record = record_call(session, actor_for(session, user), body, tz=TZ)
    with session_scope(engine) as session:
        closed = session.get(Task, world.tasks["S00001:outbound_call"])
        worked = session.get(Task, world.tasks["S00001:store"])
        assert closed is not None and worked is not None
        assert closed.status == "closed"
        assert closed.closed_reason == f"accepted in store (contact {record.contact.id})"
        assert (worked.status, worked.closed_reason) == ("done", "accepted,connected")
        assert re.fullmatch(r"\d+", str(record.acceptance.id if record.acceptance else ""))
