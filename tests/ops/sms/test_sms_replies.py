"""SMS replies from the gateway: an unsubscribe word (TD, T, 退订 and the setting's) becomes an
objection to marketing SMS in the request that delivers it — the next marketing SMS is blocked,
a service notice still goes — audited; other replies are kept; each gateway id counts once; an
unknown number is reported, not an error. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from api_helpers import login
from sms_fixtures import actor, add_customers, assign
from weiwan.core.db import session_scope
from weiwan.core.settings import Settings
from weiwan.ops.consents.models import ConsentEvent
from weiwan.ops.contacts.models import Contact
from weiwan.ops.org.models import AuditEvent
from weiwan.ops.sms import service
from weiwan.ops.sms.models import SmsMessage, SmsReply
from weiwan.ops.sms.schemas import TemplateIn
from weiwan.web.app import create_app

URL = "/api/v1/sms/replies"
TOKEN = {"X-SMS-Callback-Token": "cb-token"}


@pytest.fixture
def gateway_app(
    engine: Engine, branches: dict[str, int], people: dict[str, int], tmp_path: Path
) -> FastAPI:
    """S00001–S00003 managed by ``agent``; the callback token; ``N`` as an extra keyword."""
    add_customers(engine, branches["city"], ["S00001", "S00002", "S00003"])
    assign(engine, ["S00001", "S00002", "S00003"], people["agent"])
    settings = Settings(
        home=tmp_path,
        secret_key="test-secret",
        sms_callback_token="cb-token",
        sms_unsubscribe_keywords=["N"],
    )
    return create_app(settings, engine)


@pytest.fixture
def templates(engine: Engine, people: dict[str, int]) -> dict[str, int]:
    """A marketing template and a service notice (the bill reminder); their ids by purpose."""
    with session_scope(engine) as session:
        head = actor(session, people["head"])
        offer = service.create_template(session, head, TemplateIn(name="优惠", body_zh="本月优惠"))
        bill = TemplateIn(name="账单提醒", body_zh="您的账单已出", purpose="service")
        notice = service.create_template(session, head, bill)
        return {"marketing": offer.id, "service": notice.id}


def _reply(message_id: str, text: str, **sender: str) -> dict[str, Any]:
    received = datetime.now(UTC) - timedelta(seconds=5)
    return {"message_id": message_id, "text": text, "received_at": received.isoformat(), **sender}


def _send(client: TestClient, sid: str, template: int | None = None) -> tuple[int, Any]:
    body: dict[str, Any] = {"subscriber_id": sid}
    body.update({"template_id": template} if template else {"body": "月底流量包五折"})
    answer = client.post("/api/v1/sms/messages", json=body)
    return answer.status_code, answer.json()


def test_an_unsubscribe_reply_stops_marketing_sms_at_once_but_not_service_notices(
    gateway_app: FastAPI, engine: Engine, templates: dict[str, int]
) -> None:
    gateway = TestClient(gateway_app)  # no session, no CSRF token: the gateway's token
    agent = login(gateway_app, "agent")
    status, waiting = _send(agent, "S00001", templates["marketing"])  # before: queued
    assert status == 201 and waiting["status"] == "queued"
    reply = _reply("mo-1", "退订", msisdn="+86 138 0000 0001")
    answer = gateway.post(URL, json={"replies": [reply]}, headers=TOKEN)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "unsubscribed": 1,
        "results": [{"message_id": "mo-1", "result": "unsubscribed"}],
    }
    status, blocked = _send(agent, "S00001", templates["marketing"])
    assert status == 409 and blocked["blocked_reason"] == "objection"
    assert _send(agent, "S00001")[1]["blocked_reason"] == "objection"  # a free text: marketing
    status, notice = _send(agent, "S00001", templates["service"])
    assert status == 201 and notice["status"] == "queued"
    assert _send(agent, "S00002", templates["marketing"])[0] == 201  # only the one who replied
    ledger = agent.get("/api/v1/customers/S00001/consents").json()
    (event,) = ledger["history"]
    assert (event["purpose"], event["channel"], event["state"]) == (
        "marketing_sms",
        "sms",
        "objection",
    )
    assert (event["source"], event["reference"], event["recorded_by"]) == (
        "sms_reply",
        "mo-1",
        None,
    )
    card = agent.get("/api/v1/customers/S00001").json()
    assert card["objections"] == [{"purpose": "marketing_sms", "channel": "sms"}]
    # the gateway delivers the same reply again: nothing twice
    repeat = gateway.post(URL, json={"replies": [reply]}, headers=TOKEN)
    assert repeat.json()["results"] == [{"message_id": "mo-1", "result": "duplicate"}]
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(ConsentEvent)) == 1
        stored = session.scalars(select(SmsReply)).one()
        assert stored.unsubscribe and stored.consent_event_id is not None
        assert stored.subscriber_id == "S00001"
        audited = session.scalars(select(AuditEvent).where(AuditEvent.action == "consent")).one()
        assert audited.user_id is None and '"source": "sms_reply"' in str(audited.detail)
    # the marketing message queued before the reply is withheld by the dispatch, not sent
    dispatched = login(gateway_app, "director").post("/api/v1/sms/dispatch").json()
    assert (dispatched["withheld"], dispatched["sent"]) == (1, 2)  # S00001's notice, S00002
    with session_scope(engine) as session:
        mine = session.execute(
            select(SmsMessage.id, SmsMessage.purpose, SmsMessage.status, SmsMessage.blocked_reason)
            .where(SmsMessage.subscriber_id == "S00001")
            .order_by(SmsMessage.id)
        ).all()
        withheld = session.get(SmsMessage, waiting["id"])
        assert withheld is not None
        contact = session.get(Contact, withheld.contact_id)
        assert contact is not None and (contact.status, contact.blocked_reason) == (
            "blocked",
            "objection",
        )
    assert [tuple(row)[1:] for row in mine] == [
        ("marketing", "blocked", "objection"),  # queued before the reply, withheld
        ("marketing", "blocked", "objection"),
        ("marketing", "blocked", "objection"),  # the free text
        ("service", "sent", None),
    ]


@pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
def test_keywords_trimmed_in_any_case_others_kept_unknown_senders_reported(
    gateway_app: FastAPI, engine: Engine, templates: dict[str, int]
) -> None:
    batch = [
        _reply("mo-2", " td \n", subscriber_id="S00002"),
        _reply("mo-3", "好的，谢谢。TD", msisdn="13800000003"),
        _reply("mo-4", "TD", msisdn="13999999999"),
        _reply("mo-5", "ｎ", msisdn="8613800000001"),  # the setting's N, full-width, lower case
        _reply("mo-6", "t", subscriber_id="S00003"),
    ]
    answer = TestClient(gateway_app).post(URL, json={"replies": batch}, headers=TOKEN)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "unsubscribed": 3,
        "results": [
            {"message_id": "mo-2", "result": "unsubscribed"},
            {"message_id": "mo-3", "result": "stored"},
            {"message_id": "mo-4", "result": "unknown_subscriber"},
            {"message_id": "mo-5", "result": "unsubscribed"},
            {"message_id": "mo-6", "result": "unsubscribed"},
        ],
    }
    agent = login(gateway_app, "agent")
    assert _send(agent, "S00002", templates["marketing"])[1]["blocked_reason"] == "objection"
    with session_scope(engine) as session:
        rows = session.execute(select(SmsReply.gateway_message_id, SmsReply.unsubscribe))
        kept = {message_id: unsubscribe for message_id, unsubscribe in rows}
    assert kept == {"mo-2": True, "mo-3": False, "mo-5": True, "mo-6": True}
    # the reply that was not an unsubscribe changed nothing
    assert _send(agent, "S00003", templates["service"])[0] == 201
    third = agent.get("/api/v1/customers/S00003/consents").json()
    assert [e["reference"] for e in third["history"]] == ["mo-6"]


@pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
def test_replies_need_the_gateways_token_and_a_well_formed_batch(
    gateway_app: FastAPI, engine: Engine
) -> None:
    gateway = TestClient(gateway_app)
    body = {"replies": [_reply("mo-7", "TD", msisdn="13800000001")]}
    assert gateway.post(URL, json=body).status_code == 401
    assert gateway.post(URL, json=body, headers={"X-SMS-Callback-Token": "x"}).status_code == 401
    assert login(gateway_app, "director").post(URL, json=body).status_code == 401
    both = {"replies": [_reply("mo-8", "TD", msisdn="13800000001", subscriber_id="S00001")]}
    refused = gateway.post(URL, json=both, headers=TOKEN)
    assert refused.status_code == 422 and "msisdn or subscriber_id" in refused.text
    naive = _reply("mo-9", "TD", msisdn="13800000001") | {"received_at": "2026-11-24 10:00:00"}
    assert gateway.post(URL, json={"replies": [naive]}, headers=TOKEN).status_code == 422
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(SmsReply)) == 0
