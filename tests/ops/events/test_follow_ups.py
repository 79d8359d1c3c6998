"""Follow-up steps as durable timers: the event's call now, an SMS 24 hours later, a second call
at 48 hours; a timer survives a new process (it is a row), fires once at its time, ends the
sequence when the customer accepts an offer in any channel or leaves, and shows on the card."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from customer_fixtures import customer
from event_fixtures import bearer, event, seed_event_token
from ledger_fixtures import library_policy, publish_library, publish_text
from ops.race import race
from weiwan.core.db import make_engine, session_scope
from weiwan.ops.contacts.models import Acceptance
from weiwan.ops.contacts.service import record_system_contact
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.events.follow_ups import Fired, fire_due
from weiwan.ops.events.models import EventRecord, FollowUpTimer
from weiwan.ops.sms.models import SmsMessage, SmsTemplate
from weiwan.ops.tasks.models import Task

from .test_event_sms import TZ

RULE = {
    "id": "port_out_follow",
    "trigger": "event",
    "event_type": "port_out_code_request",
    "name_zh": "携号转网跟进",
    "name_en": "Port-out follow-up",
    "severity": "critical",
    "holdout": 0.0,
    "event_risk": 0.6,
    "sla": {"default": {"action": "outbound_call", "within_minutes": 60}},
    "follow_up": [
        {"after_hours": 24, "action": "sms", "template": "跟进短信"},
        {"after_hours": 48, "action": "outbound_call", "within_minutes": 120},
    ],
}
CUSTOMERS = ("S00001", "S00002", "S00003")


@pytest.fixture
def following(engine: Engine, people: dict[str, int], branches: dict[str, int]) -> Engine:
    seed_event_token(engine)
    publish_text(engine, "alerts", yaml.safe_dump({"rules": [RULE]}, allow_unicode=True))
    publish_library(engine, [library_policy("disc", "discount", 30.0)])
    with session_scope(engine) as session:
        for sid in CUSTOMERS:
            session.add(customer(sid, branches["city"], eligible_policies=" disc "))
        session.add(
            SmsTemplate(
                name="跟进短信", body_zh="${name}您好，${offer}仍为您保留。", free_variables="offer"
            )
        )
    return engine


def _post(app: FastAPI, when: datetime, *customers: str) -> None:
    batch = [event(f"po-{sid}", sid, time=when.isoformat()) for sid in customers]
    answer = TestClient(app).post("/api/v1/events", json={"events": batch}, headers=bearer())
    assert answer.status_code == 202, answer.text


def _timers(engine: Engine, sid: str) -> list[tuple[int, str]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(FollowUpTimer.step, FollowUpTimer.status)
            .where(FollowUpTimer.subscriber_id == sid)
            .order_by(FollowUpTimer.step)
        )
        return [(int(s), str(t)) for s, t in rows]


def _fire(engine: Engine, at: datetime) -> Fired:
    """One pass from a process of its own (a new engine): nothing is held in memory."""
    again = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        with session_scope(again) as session:
            return fire_due(session, at)
    finally:
        again.dispose()


def test_the_steps_fire_at_their_time_with_the_events_offer(
    app: FastAPI, following: Engine
) -> None:
    event_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    _post(app, event_at, "S00001")
    assert _timers(following, "S00001") == [(1, "waiting")]
    assert _fire(following, event_at + timedelta(hours=23)).done == 0  # not yet due
    fired = _fire(following, event_at + timedelta(hours=24, minutes=1))
    assert (fired.done, fired.blocked) == (1, 0)
    assert _timers(following, "S00001") == [(1, "done"), (2, "waiting")]
    assert _fire(following, event_at + timedelta(hours=24, minutes=2)).done == 0  # once only
    with session_scope(following) as session:
        (message,) = session.scalars(select(SmsMessage)).all()
        assert message.body == "客户1您好，政策disc仍为您保留。"
        assert message.alert_rule == "event:port_out_follow"
    second = event_at + timedelta(hours=48, minutes=1)
    assert _fire(following, second).done == 1
    assert _timers(following, "S00001") == [(1, "done"), (2, "done")]
    with session_scope(following) as session:
        follow_task = session.scalar(select(Task).where(Task.origin.like("follow_up:%")))
        assert follow_task is not None and follow_task.policy_id == "disc"
        assert follow_task.channel == "outbound_call"
        assert follow_task.due_at is not None
        assert follow_task.due_at.astimezone(UTC) == second + timedelta(minutes=120)


def test_acceptance_in_any_channel_or_leaving_ends_the_sequence(
    app: FastAPI, following: Engine
) -> None:
    event_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    _post(app, event_at, "S00001", "S00002", "S00003")
    with session_scope(following) as session:
        contact, _ = record_system_contact(session, "S00001", "store", tz=TZ)
        session.add(
            Acceptance(
                subscriber_id="S00001", policy_id="disc", contact_id=contact.id, channel="store"
            )
        )
        session.get_one(CustomerView, "S00002").status = "ported_out"
    fired = _fire(following, event_at + timedelta(hours=25))
    assert (fired.accepted, fired.lost, fired.done) == (1, 1, 1)
    assert _timers(following, "S00001") == [(1, "accepted")]
    assert _timers(following, "S00002") == [(1, "lost")]
    assert _timers(following, "S00003") == [(1, "done"), (2, "waiting")]


def test_the_card_shows_the_customers_follow_ups(app: FastAPI, following: Engine) -> None:
    from web.page_helpers import page_login

    _post(app, datetime.now(UTC) - timedelta(minutes=1), "S00001")
    card = page_login(app, "director").get("/customers/S00001").text
    assert 'id="customer-follow-ups"' in card and "携号转网跟进 · 第 1 步" in card
    assert "待执行" in card
    english = page_login(app, "director", language="en").get("/customers/S00001").text
    assert "Port-out follow-up · step 1" in english and "Pending" in english


@pytest.mark.parametrize("empty_engine", ["postgresql"], indirect=True)
def test_two_passes_at_once_fire_each_step_once(app: FastAPI, following: Engine) -> None:
    event_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    _post(app, event_at, *CUSTOMERS)
    at = event_at + timedelta(hours=25)
    results = race([partial(_fire, following, at), partial(_fire, following, at)])
    assert all(isinstance(r, Fired) for r in results), results
    assert sum(r.done for r in results if isinstance(r, Fired)) == 3
    with session_scope(following) as session:
        assert session.scalar(select(func.count()).select_from(SmsMessage)) == 3
        steps = session.scalar(select(func.count()).where(FollowUpTimer.step == 2))
        assert steps == 3
        assert session.scalar(select(func.count()).select_from(EventRecord)) == 3


def test_follow_up_calls_count_against_the_real_time_capacity(
    app: FastAPI, following: Engine
) -> None:
    """Outbound calls for events: 2 a day. The event's call and the first follow-up's take
    them; the second follow-up, the same day, finds none left."""
    from customer_fixtures import publish_rules

    rule = {
        **RULE,
        "follow_up": [
            {"after_hours": 1, "action": "outbound_call"},
            {"after_hours": 1.5, "action": "outbound_call"},
        ],
    }
    publish_text(following, "alerts", yaml.safe_dump({"rules": [rule]}, allow_unicode=True))
    publish_rules(
        following,
        {"channels": {"outbound_call": {"capacity": {"per_day": 20}, "reserve_for_events": 0.1}}},
    )
    now = datetime.now(UTC)
    _post(app, now - timedelta(hours=2), "S00001")
    assert _fire(following, now).done == 1  # the first step
    assert _fire(following, now).blocked == 1  # the second: the day's share is used
    with session_scope(following) as session:
        note = session.scalar(select(FollowUpTimer.note).where(FollowUpTimer.step == 2))
    assert note == "no contact: capacity"
