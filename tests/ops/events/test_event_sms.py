"""An event rule whose action is an SMS: the offer granted at once goes out in the template's
text through the contact policy — queued now, or scheduled for the end of the SMS quiet hours;
a template that does not exist sends nothing and gives the offer's grant back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from customer_fixtures import customer, publish_rules
from event_fixtures import bearer, event, seed_event_token
from ledger_fixtures import library_policy, publish_library, publish_text
from weiwan.core.db import session_scope
from weiwan.core.settings import get_settings
from weiwan.ops.base import as_utc
from weiwan.ops.events.models import EventRecord
from weiwan.ops.ledger.models import OnlineGrant
from weiwan.ops.sms.models import SmsMessage, SmsTemplate
from weiwan.ops.tasks.models import Task

TZ = ZoneInfo(get_settings().timezone)
RULE = {
    "id": "port_out_sms",
    "trigger": "event",
    "event_type": "port_out_code_request",
    "name_zh": "携号转网短信挽留",
    "name_en": "Port-out SMS",
    "severity": "critical",
    "holdout": 0.0,
    "event_risk": 0.6,
    "sla": {"default": {"action": "sms", "within_minutes": 5, "template": "实时挽留"}},
}


@pytest.fixture
def texting(engine: Engine, branches: dict[str, int]) -> Engine:
    seed_event_token(engine)
    publish_text(engine, "alerts", yaml.safe_dump({"rules": [RULE]}, allow_unicode=True))
    publish_library(engine, [library_policy("disc", "discount", 30.0)])
    with session_scope(engine) as session:
        for sid in ("S00001", "S00002"):
            session.add(customer(sid, branches["city"], eligible_policies=" disc "))
    return engine


def _template(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(
            SmsTemplate(
                name="实时挽留",
                body_zh="${name}您好，为您准备了${offer}，回复1即可办理。",
                free_variables="offer",
            )
        )


def _post(app: FastAPI, *events: dict[str, object]) -> None:
    answer = TestClient(app).post("/api/v1/events", json={"events": list(events)}, headers=bearer())
    assert answer.status_code == 202, answer.text


def _quiet_all_day(engine: Engine, quiet: bool) -> None:
    """SMS quiet hours that contain now (or none): the test never depends on the clock."""
    now = datetime.now(TZ)
    start = (now.replace(hour=(now.hour + 23) % 24)).strftime("%H:00")
    end = (now.replace(hour=(now.hour + 2) % 24)).strftime("%H:00")
    channel = {"quiet_hours": {"start": start, "end": end}} if quiet else {}
    publish_rules(
        engine,
        {"channels": {"sms": {**channel, "capacity": {"per_day": 100}, "reserve_for_events": 0.5}}},
    )


def test_the_offer_goes_out_by_sms_at_once(app: FastAPI, texting: Engine) -> None:
    _template(texting)
    _quiet_all_day(texting, quiet=False)
    _post(app, event("po-1", "S00001"))
    with session_scope(texting) as session:
        record = session.scalar(select(EventRecord))
        assert record is not None and record.message_id is not None
        message = session.get_one(SmsMessage, record.message_id)
        assert message.status == "queued" and message.alert_rule == "event:port_out_sms"
        assert message.body == "客户1您好，为您准备了政策disc，回复1即可办理。"
        assert session.scalar(select(Task)) is None  # an SMS, no task
        assert session.scalar(select(OnlineGrant.policy_id)) == "disc"
        decision = json.loads(record.decision or "{}")
        assert decision["action"] == "sms" and decision["offer"]["policy_id"] == "disc"
        assert record.note is None


def test_in_the_quiet_hours_the_sms_waits_for_their_end(app: FastAPI, texting: Engine) -> None:
    _template(texting)
    _quiet_all_day(texting, quiet=True)
    _post(app, event("po-1", "S00001"))
    with session_scope(texting) as session:
        record = session.scalar(select(EventRecord))
        assert record is not None and record.note == "SMS scheduled"
        message = session.get_one(SmsMessage, record.message_id)
        assert message.status == "scheduled" and message.scheduled_at is not None
        local = as_utc(message.scheduled_at).astimezone(TZ)
        assert local > datetime.now(UTC) and local.time() == time(local.hour, 0)


def test_without_the_template_nothing_is_sent_and_the_grant_is_given_back(
    app: FastAPI, texting: Engine
) -> None:
    _quiet_all_day(texting, quiet=False)
    _post(app, event("po-1", "S00001"))
    with session_scope(texting) as session:
        record = session.scalar(select(EventRecord))
        assert record is not None and record.status == "processed"
        assert record.message_id is None
        assert record.note == "no SMS: no active SMS template named '实时挽留'"
        assert session.scalar(select(OnlineGrant)) is None
        assert json.loads(record.decision or "{}")["offer"] is None
