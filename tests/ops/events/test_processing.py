"""Processing events with the event rules: the customer found by id or number, the most severe
rule whose condition holds over the event and the view fires, its stable hold-out measured
without contact, one open task per rule and customer, in the SLA's channel and due time for the
customer's value tier, routed like every task; the event's status shows all of it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from api_helpers import login
from customer_fixtures import customer
from event_fixtures import bearer, event, seed_event_token
from weiwan.core.db import session_scope
from weiwan.core.event_rules import event_rules_of
from weiwan.core.settings import Settings
from weiwan.core.yaml_safe import load_yaml
from weiwan.ops.base import as_utc, utcnow
from weiwan.ops.events.models import EventRecord
from weiwan.ops.events.processing import process_backlog
from weiwan.ops.org.config import text_digest, yaml_name
from weiwan.ops.org.models import ConfigDocument
from weiwan.ops.tasks.models import CustomerAssignment, Task
from weiwan.web.app import create_app

API = "/api/v1/events"
ALERTS = resources.files("weiwan.analytics").joinpath("alert_rules/alerts.yaml").read_text("utf-8")
RULES = {r.id: r for r in event_rules_of(load_yaml(ALERTS))[0]}
PORT_OUT = RULES["port_out_code_request"]
#: customers of the city branch: most contacted, one in the port-out rule's hold-out
HELD = next(f"S{n:05d}" for n in range(1, 500) if PORT_OUT.holds_out(f"S{n:05d}"))
REACHED = [f"S{n:05d}" for n in range(1, 40) if not PORT_OUT.holds_out(f"S{n:05d}")][:4]


def publish_alert_rules(engine: Engine) -> None:
    """The shipped alert rules as the daily run publishes them."""
    content = {
        "text": ALERTS,
        "source": "alerts.yaml (shipped)",
        "edited": False,
        "sha256": text_digest(ALERTS),
    }
    with session_scope(engine) as session:
        session.add(
            ConfigDocument(
                name=yaml_name("alerts"), content=json.dumps(content), updated_at=utcnow()
            )
        )


@pytest.fixture
def city(engine: Engine, people: dict[str, int], branches: dict[str, int]) -> Engine:
    seed_event_token(engine)
    with session_scope(engine) as session:
        for sid in [*REACHED, HELD]:
            session.add(customer(sid, branches["city"]))
        session.add(customer("S00900", branches["city"], value_tier="gold"))
        session.add(
            CustomerAssignment(
                subscriber_id="S00900", kind="account_manager", user_id=people["agent2"]
            )
        )
    return engine


def _post(app: FastAPI, *events: dict[str, object]) -> dict[str, object]:
    answer = TestClient(app).post(API, json={"events": list(events)}, headers=bearer())
    assert answer.status_code == 202, answer.text
    body: dict[str, object] = answer.json()
    return body


def _event(engine: Engine, event_id: str) -> EventRecord:
    with session_scope(engine) as session:
        record = session.scalar(select(EventRecord).where(EventRecord.event_id == event_id))
        assert record is not None
        session.expunge(record)
        return record


def _tasks(engine: Engine) -> list[Task]:
    with session_scope(engine) as session:
        rows = list(session.scalars(select(Task).order_by(Task.id)))
        session.expunge_all()
        return rows


def test_a_port_out_code_request_becomes_a_task_due_within_the_sla(
    app: FastAPI, city: Engine
) -> None:
    publish_alert_rules(city)
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    _post(app, event("po-1", REACHED[0], time=when.isoformat()))
    record = _event(city, "po-1")
    assert record.status == "processed" and record.rule_id == "port_out_code_request"
    (task,) = _tasks(city)
    assert record.task_id == task.id and task.subscriber_id == REACHED[0]
    assert task.channel == "outbound_call" and task.source == "alert" and task.status == "open"
    assert task.due_at is not None
    assert as_utc(task.due_at) == when + timedelta(minutes=60)  # ordinary tier: within an hour
    assert task.assignee_id is None  # the branch's outbound queue
    decision = json.loads(record.decision or "{}")
    assert decision["action"] == "outbound_call" and decision["holdout"] is False
    assert decision["reasons_en"][0] == "Port-out code requested"
    # a second request the next hour: the open task stands, no second one
    _post(app, event("po-2", REACHED[0]))
    again = _event(city, "po-2")
    assert again.status == "processed" and again.task_id == task.id
    assert again.note == "task already open" and len(_tasks(city)) == 1
    status = login(app, "director").get(f"{API}/po-1").json()
    assert status["task_id"] == task.id and status["decision"]["rule"] == "port_out_code_request"


def test_a_gold_customer_gets_their_account_managers_call(
    app: FastAPI, city: Engine, people: dict[str, int]
) -> None:
    publish_alert_rules(city)
    when = datetime.now(UTC).replace(microsecond=0)
    _post(app, event("gold-1", None, msisdn="13800000900", time=when.isoformat()))
    record = _event(city, "gold-1")
    assert record.subscriber_id == "S00900"  # found by number
    (task,) = _tasks(city)
    assert task.channel == "account_manager_call" and task.assignee_id == people["agent2"]
    assert task.due_at is not None and as_utc(task.due_at) == when + timedelta(minutes=120)


def test_conditions_hold_outs_and_unknown_customers(app: FastAPI, city: Engine) -> None:
    publish_alert_rules(city)
    _post(
        app,
        event("held-1", HELD),
        event(
            "fw-other",
            REACHED[1],
            type="call_forwarding_on",
            attributes={"target_network": "other"},
        ),
        event(
            "fw-unicom",
            REACHED[2],
            type="call_forwarding_on",
            attributes={"target_network": "china_unicom"},
        ),
        event("nobody-1", "S77777"),
        event("visit-1", REACHED[3], type="store_visit", attributes={}),
    )
    held = _event(city, "held-1")
    assert held.status == "processed" and held.note == "holdout" and held.task_id is None
    assert json.loads(held.decision or "{}")["holdout"] is True
    assert (_event(city, "fw-other").status, _event(city, "fw-other").note) == (
        "ignored",
        "no rule fired",
    )
    forwarded = _event(city, "fw-unicom")
    assert forwarded.status == "processed" and forwarded.rule_id == "forwarding_to_competitor"
    assert _event(city, "nobody-1").note == "unknown subscriber"
    assert _event(city, "visit-1").status == "ignored"
    assert [t.subscriber_id for t in _tasks(city)] == [REACHED[2]]


def test_without_rules_in_effect_events_wait_in_the_open(app: FastAPI, city: Engine) -> None:
    _post(app, event("early-1", REACHED[0]))
    early = _event(city, "early-1")
    assert early.status == "ignored" and early.note == "no event rules in effect yet"


def test_events_left_by_intake_are_processed_by_the_backlog_pass(
    city: Engine, tmp_path: Path
) -> None:
    publish_alert_rules(city)
    app = create_app(Settings(home=tmp_path, secret_key="x", events_process_at_intake=False), city)
    _post(app, event("later-1", REACHED[0]), event("later-2", REACHED[1]))
    assert {_event(city, e).status for e in ("later-1", "later-2")} == {"received"}
    with session_scope(city) as session:
        done = process_backlog(session, utcnow())
    assert (done.processed, done.ignored, done.failed, len(done.tasks)) == (2, 0, 0, 2)
    assert {_event(city, e).status for e in ("later-1", "later-2")} == {"processed"}
    with session_scope(city) as session:
        assert process_backlog(session, utcnow()).processed == 0  # nothing left


def test_a_following_worker_processes_events_as_they_arrive_and_stops_on_sigterm(
    city: Engine, tmp_path: Path
) -> None:
    """Intake answering as soon as events are stored; `weiwan events process --follow` works
    them off as they come, until SIGTERM."""
    import os
    import signal
    import subprocess
    import sys
    import time

    publish_alert_rules(city)
    app = create_app(Settings(home=tmp_path, secret_key="x", events_process_at_intake=False), city)
    env = {
        **os.environ,
        "WEIWAN_DATABASE_URL": city.url.render_as_string(hide_password=False),
        "WEIWAN_HOME": str(tmp_path),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "weiwan", "events", "process", "--follow", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        _post(app, event("f-1", REACHED[0]), event("f-2", REACHED[1]))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if {_event(city, e).status for e in ("f-1", "f-2")} == {"processed"}:
                break
            time.sleep(0.1)
        assert {_event(city, e).status for e in ("f-1", "f-2")} == {"processed"}
        _post(app, event("f-3", REACHED[2]))  # a later one too
        while _event(city, "f-3").status != "processed" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _event(city, "f-3").status == "processed"
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0
    assert json.loads(output) == {"processed": 3, "ignored": 0, "failed": 0, "tasks": 3}


def test_one_batch_with_the_same_customer_twice_makes_one_task(app: FastAPI, city: Engine) -> None:
    publish_alert_rules(city)
    _post(app, event("dup-1", REACHED[0]), event("dup-2", REACHED[0]), event("dup-3", REACHED[1]))
    first, second = _event(city, "dup-1"), _event(city, "dup-2")
    assert first.task_id is not None and second.task_id == first.task_id
    assert {first.note, second.note} == {None, "task already open"}
    assert sorted(t.subscriber_id for t in _tasks(city)) == sorted(REACHED[:2])


def test_a_batch_that_fails_is_processed_event_by_event(
    app: FastAPI, city: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault with one event (here: creating tasks for two at once fails) does not lose the
    batch: each event is processed on its own, in its own savepoint."""
    import weiwan.ops.events.processing as processing
    from weiwan.ops.tasks.service import create_tasks as real

    def fussy(session: Any, specs: list[Any]) -> int:
        if len(specs) > 1:
            raise RuntimeError("simulated fault")
        return real(session, specs)

    monkeypatch.setattr(processing, "create_tasks", fussy)
    publish_alert_rules(city)
    _post(app, event("f-1", REACHED[0]), event("f-2", REACHED[1]))
    assert {_event(city, e).status for e in ("f-1", "f-2")} == {"processed"}
    assert len(_tasks(city)) == 2


def test_the_card_shows_the_live_alert_but_not_to_a_held_out_customer(
    app: FastAPI, city: Engine
) -> None:
    """The screen-pop and the card say why to act now; a held-out customer's card stays quiet
    (showing it would have them contacted)."""
    from web.page_helpers import page_login

    publish_alert_rules(city)
    _post(app, event("card-1", REACHED[0]), event("card-2", HELD))
    director = page_login(app, "director")
    card = director.get(f"/customers/{REACHED[0]}").text
    assert 'id="customer-live-alerts"' in card and "携号转网授权码申请" in card
    assert 'id="customer-live-alerts"' not in director.get(f"/customers/{HELD}").text
    english = page_login(app, "director", language="en").get(f"/customers/{REACHED[0]}").text
    assert "Port-out code requested" in english
