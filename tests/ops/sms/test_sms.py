"""SMS: templates and rendering, sends through the contact policy (caps block, quiet hours
schedule), scope, the gateways, dispatch, delivery receipts, masked lists."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from api_helpers import login
from sms_fixtures import (
    actor,
    add_campaign,
    add_contact,
    add_customers,
    assign,
    publish_rules,
)
from weiwan.core.db import session_scope
from weiwan.core.errors import InvalidRequestError, PermissionDeniedError
from weiwan.core.settings import Settings
from weiwan.ops.campaigns.models import CampaignMember
from weiwan.ops.contacts.models import Acceptance, Contact
from weiwan.ops.org.models import AuditEvent
from weiwan.ops.sms import dispatch, service
from weiwan.ops.sms.gateway import HttpGateway, OutboxGateway, OutgoingSms
from weiwan.ops.sms.models import SmsMessage
from weiwan.ops.sms.render import check_template, format_value, measure, render
from weiwan.ops.sms.schemas import TemplateIn
from weiwan.web.app import create_app

TZ = ZoneInfo("Asia/Shanghai")
MORNING = datetime(2026, 11, 24, 10, 0, tzinfo=TZ)
RULES = {
    "channels": {
        "sms": {"caps": {"day": 1}, "quiet_hours": {"start": "21:00", "end": "08:00"}},
    },
    "cross_channel_caps": {"day": 2},
}
BODY = "尊敬的${name}，您的${plan_id}套餐本月可享${amount}元优惠。"


@pytest.fixture
def world(engine: Engine, branches: dict[str, int], people: dict[str, int]) -> int:
    """S1–S3 managed by ``agent``, S4 by ``agent2``, S5 unmanaged, S6 without a name (all in
    the city branch), S20 in the other branch; the rules above; one template. Its id."""
    add_customers(engine, branches["city"], ["S00001", "S00002", "S00003", "S00004", "S00005"])
    add_customers(engine, branches["city"], ["S00006"], name=None)
    add_customers(engine, branches["other"], ["S00020"])
    assign(engine, ["S00001", "S00002", "S00003"], people["agent"])
    assign(engine, ["S00004"], people["agent2"])
    publish_rules(engine, RULES)
    with session_scope(engine) as session:
        template = service.create_template(
            session,
            actor(session, people["head"]),
            TemplateIn(name="关怀", body_zh=BODY, free_variables=["amount"]),
        )
        return template.id


def _aware(moment: datetime | None) -> datetime:
    assert moment is not None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_rendering_variables_and_length() -> None:
    assert check_template(BODY, "Dear ${name}, ${amount} off", ["amount"]) == (
        ["name", "plan_id"],
        ["amount"],
    )
    with pytest.raises(InvalidRequestError, match="'balance'") as error:
        check_template("余额${balance}元", None, [])
    assert error.value.field == "body_zh"
    with pytest.raises(InvalidRequestError, match=r"\$\$"):
        check_template("只需$5", None, [])
    with pytest.raises(InvalidRequestError, match="customer field"):
        check_template("${name}", None, ["name"])
    assert render(BODY, {"name": "张三", "plan_id": "TC096", "amount": "50"}) == (
        "尊敬的张三，您的TC096套餐本月可享50元优惠。"
    )
    assert render("$$${amount}", {"amount": "5"}) == "$5"
    assert (format_value(96.0), format_value(96.5)) == ("96", "96.50")
    assert measure("中" * 70).segments == 1 and measure("中" * 70).encoding == "ucs2"
    assert [measure("中" * n).segments for n in (71, 134, 135)] == [2, 2, 3]
    assert measure("a" * 160).segments == 1 and measure("a" * 160).encoding == "gsm7"
    assert measure("a" * 161).segments == 2
    assert measure("€" * 80).characters == 160  # extension characters count twice


def test_templates_api_and_preview(app: FastAPI, world: int) -> None:
    head, agent = login(app, "head"), login(app, "agent")
    unknown = head.post(
        "/api/v1/sms/templates", json={"name": "x", "body_zh": "您的余额${balance}元"}
    )
    assert unknown.status_code == 422 and "'balance'" in unknown.json()["detail"]
    assert (
        agent.post("/api/v1/sms/templates", json={"name": "y", "body_zh": "你好"}).status_code
        == 403
    )

    shown = agent.get(f"/api/v1/sms/templates/{world}").json()
    assert shown["customer_fields"] == ["name", "plan_id"]
    assert shown["free_variables"] == ["amount"]
    assert shown["fixed_length_zh"] == {"characters": 16, "encoding": "ucs2", "segments": 1}

    url = f"/api/v1/sms/templates/{world}/preview"
    preview = agent.post(url, json={"subscriber_id": "S00001", "variables": {"amount": "50"}})
    assert preview.status_code == 200
    assert preview.json()["body"] == "尊敬的客户1，您的TC096套餐本月可享50元优惠。"
    assert preview.json()["length"]["segments"] == 1
    assert (
        agent.post(url, json={"subscriber_id": "S00004", "variables": {"amount": "5"}}).status_code
        == 404
    )
    no_amount = agent.post(url, json={"subscriber_id": "S00001"})
    assert no_amount.status_code == 422 and "'amount'" in no_amount.json()["detail"]
    extra = agent.post(
        url, json={"subscriber_id": "S00001", "variables": {"amount": "1", "b": "2"}}
    )
    assert extra.status_code == 422

    bad_edit = head.patch(f"/api/v1/sms/templates/{world}", json={"body_zh": "${x}"})
    assert bad_edit.status_code == 422 and "'x'" in bad_edit.json()["detail"]
    assert head.delete(f"/api/v1/sms/templates/{world}").status_code == 204
    assert world not in [t["id"] for t in agent.get("/api/v1/sms/templates").json()]
    gone = agent.post(
        "/api/v1/sms/messages",
        json={"subscriber_id": "S00001", "template_id": world, "variables": {"amount": "1"}},
    )
    assert gone.status_code == 409


def _sms_sent_on(session: Session, subscriber_id: str) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                Contact.subscriber_id == subscriber_id,
                Contact.channel == "sms",
                Contact.status == "sent",
            )
        )
        or 0
    )


def test_bulk_send_respects_caps_and_scope(
    engine: Engine, world: int, people: dict[str, int], branches: dict[str, int]
) -> None:
    campaign = add_campaign(engine, branches["city"], people["head"])
    add_contact(engine, "S00001", MORNING - timedelta(hours=1), channel="sms")  # day cap used
    for hours in (1, 2):  # the cross-channel day cap (2) used by calls
        add_contact(engine, "S00002", MORNING - timedelta(hours=hours))
    ids = ["S00001", "S00002", "S00003", "S00004", "S00005", "S00006", "S00003", "S00020"]
    with session_scope(engine) as session:
        head = actor(session, people["head"])
        with pytest.raises(PermissionDeniedError):
            service.send_bulk(
                session, actor(session, people["agent"]), world, ids, tz=TZ, now=MORNING
            )
        with pytest.raises(InvalidRequestError, match="'amount'"):
            service.send_bulk(session, head, world, ids, tz=TZ, now=MORNING)
        result = service.send_bulk(
            session,
            head,
            world,
            [*ids, "S99999"],
            campaign_id=campaign,
            variables={"amount": "50"},
            tz=TZ,
            now=MORNING,
            batch_size=2,
        )
    assert result.requested == 8
    assert (result.queued, result.scheduled) == (3, 0)
    assert dict(result.blocked_by_reason) == {"cap_day": 1, "cross_channel_cap": 1}
    assert dict(result.skipped_by_reason) == {"missing_name": 1, "not_found": 2}
    with session_scope(engine) as session:
        messages = {m.subscriber_id: m for m in session.scalars(select(SmsMessage))}
        assert set(messages) == {"S00001", "S00002", "S00003", "S00004", "S00005"}
        assert messages["S00001"].status == "blocked"
        assert messages["S00001"].blocked_reason == "cap_day"
        assert messages["S00003"].body == "尊敬的客户3，您的TC096套餐本月可享50元优惠。"
        assert messages["S00003"].msisdn == "13800000003"
        for message in messages.values():
            contact = session.get(Contact, message.contact_id)
            assert contact is not None and contact.channel == "sms"
            assert contact.campaign_id == campaign
            assert contact.status == ("blocked" if message.status == "blocked" else "sent")

    with session_scope(engine) as session:
        head = actor(session, people["head"])
        again = service.send_bulk(
            session,
            head,
            world,
            ids,
            campaign_id=campaign,
            variables={"amount": "50"},
            tz=TZ,
            now=MORNING + timedelta(hours=1),
        )
        assert dict(again.skipped_by_reason) == {
            "already_sent": 3,
            "missing_name": 1,
            "not_found": 1,
        }
        other = service.send_bulk(
            session,
            head,
            world,
            ids,
            variables={"amount": "9"},
            tz=TZ,
            now=MORNING + timedelta(hours=2),
        )
        assert other.queued == 0 and other.blocked_by_reason["cap_day"] == 4
        for sid in ("S00001", "S00003", "S00004", "S00005"):
            assert _sms_sent_on(session, sid) == 1  # never more than the day cap


def test_quiet_hours_schedule_and_dispatch(
    engine: Engine, world: int, people: dict[str, int], tmp_path: Path
) -> None:
    late = datetime(2026, 11, 24, 22, 30, tzinfo=TZ)
    opening = datetime(2026, 11, 25, 8, 0, tzinfo=TZ)
    with session_scope(engine) as session:
        agent = actor(session, people["agent"])
        message = service.send_one(
            session,
            agent,
            "S00001",
            tz=TZ,
            template_id=world,
            variables={"amount": "5"},
            now=late,
        )
        assert message.status == "scheduled"
        assert _aware(message.scheduled_at) == opening
        contact = session.get(Contact, message.contact_id)
        assert contact is not None and _aware(contact.at) == opening
        # the scheduled message counts against the caps of the day it goes out
        second = service.send_one(session, agent, "S00001", tz=TZ, body="明早见", now=late)
        assert (second.status, second.blocked_reason) == ("blocked", "cap_day")
        message_id = message.id
    outbox = tmp_path / "outbox.jsonl"
    with session_scope(engine) as session:
        early = dispatch.dispatch_due(session, OutboxGateway(outbox), late + timedelta(hours=1))
        assert (early.sent, early.failed) == (0, 0)
        done = dispatch.dispatch_due(session, OutboxGateway(outbox), opening)
        assert (done.sent, done.failed) == (1, 0)
        sent = session.get(SmsMessage, message_id)
        assert sent is not None and sent.status == "sent"
        assert sent.gateway_message_id == f"outbox-{message_id}"
        assert _aware(sent.sent_at) == opening
    (line,) = outbox.read_text("utf-8").splitlines()
    assert json.loads(line) == {
        "id": f"outbox-{message_id}",
        "to": "13800000001",
        "text": "尊敬的客户1，您的TC096套餐本月可享5元优惠。",
    }


def test_agents_send_to_own_customers_and_lists_are_scoped_and_masked(
    app: FastAPI, engine: Engine, world: int, people: dict[str, int]
) -> None:
    agent = login(app, "agent")
    sent = agent.post(
        "/api/v1/sms/messages", json={"subscriber_id": "S00002", "body": "您好，请回电。"}
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["status"] in ("queued", "scheduled")  # scheduled when run at night
    assert sent.json()["msisdn"] == "138****0002"
    blocked = agent.post(
        "/api/v1/sms/messages", json={"subscriber_id": "S00002", "body": "再次提醒"}
    )
    assert blocked.status_code == 409 and blocked.json()["blocked_reason"] == "cap_day"
    for other in ("S00004", "S00005", "S00020"):  # agent2's, nobody's, another branch's
        response = agent.post("/api/v1/sms/messages", json={"subscriber_id": other, "body": "您好"})
        assert response.status_code == 404
    assert (
        login(app, "analyst")
        .post("/api/v1/sms/messages", json={"subscriber_id": "S00002", "body": "您好"})
        .status_code
        == 403
    )
    with session_scope(engine) as session:
        service.send_bulk(
            session,
            actor(session, people["director"]),
            world,
            ["S00003", "S00020"],
            variables={"amount": "5"},
            tz=TZ,
            now=MORNING,
        )

    mine = agent.get("/api/v1/sms/messages").json()
    assert {m["subscriber_id"] for m in mine} == {"S00002"}  # not the director's bulk
    assert {m["msisdn"] for m in mine} == {"138****0002"}
    assert login(app, "agent2").get("/api/v1/sms/messages").json() == []
    head = login(app, "head").get("/api/v1/sms/messages").json()
    assert {m["subscriber_id"] for m in head} == {"S00002", "S00003"}  # city branch only
    assert "13800000003" in {m["msisdn"] for m in head}
    everything = login(app, "director").get("/api/v1/sms/messages").json()
    assert {m["subscriber_id"] for m in everything} == {"S00002", "S00003", "S00020"}
    hotline = login(app, "hotline").get("/api/v1/sms/messages", params={"status": "blocked"})
    assert [m["msisdn"] for m in hotline.json()] == ["138****0002"]


def test_http_gateway_maps_results_and_failures() -> None:
    batch = [OutgoingSms(n, f"1380000000{n}", f"text {n}") for n in (1, 2, 3)]
    seen: list[dict[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Bearer tok"
        seen.append(json.loads(request.content))
        return httpx.Response(
            200,
            json={
                "results": [
                    {"id": "1", "status": "accepted", "message_id": "gw-1"},
                    {"id": "2", "status": "rejected", "error": "number blacklisted"},
                ]
            },
        )

    gateway = HttpGateway("https://sms.example/send", "tok", transport=httpx.MockTransport(answer))
    one, two, three = gateway.send(batch)
    assert seen[0]["messages"] == [
        {"id": "1", "to": "13800000001", "text": "text 1"},
        {"id": "2", "to": "13800000002", "text": "text 2"},
        {"id": "3", "to": "13800000003", "text": "text 3"},
    ]
    assert (one.ok, one.gateway_message_id) == (True, "gw-1")
    assert (two.ok, two.error) == (False, "number blacklisted")
    assert (three.ok, three.error) == (False, "no result from gateway")

    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="maintenance")

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("too slow", request=request)

    def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="OK")

    for handler, error in ((down, "HTTP 503"), (slow, "timeout"), (garbage, "JSON")):
        failing = HttpGateway("https://x", "tok", transport=httpx.MockTransport(handler))
        results = failing.send(batch)
        assert [r.ok for r in results] == [False] * 3
        assert all(error in (r.error or "") for r in results)


@pytest.fixture
def receipt_app(engine: Engine, tmp_path: Path) -> FastAPI:
    """The app with a callback token for delivery receipts."""
    settings = Settings(home=tmp_path, secret_key="test-secret", sms_callback_token="cb-token")
    return create_app(settings, engine)


def test_dispatch_over_http_and_delivery_receipts(
    receipt_app: FastAPI, engine: Engine, world: int, people: dict[str, int]
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        ids = [m["id"] for m in json.loads(request.content)["messages"]]
        return httpx.Response(
            200,
            json={
                "results": [{"id": ids[0], "status": "accepted", "message_id": "gw-a"}]
                + [{"id": i, "status": "rejected", "error": "bad number"} for i in ids[1:]]
            },
        )

    with session_scope(engine) as session:
        result = service.send_bulk(
            session,
            actor(session, people["head"]),
            world,
            ["S00003", "S00004"],
            variables={"amount": "5"},
            tz=TZ,
            now=MORNING,
        )
        first, second = result.message_ids
        gateway = HttpGateway("https://sms.example", "t", transport=httpx.MockTransport(answer))
        dispatched = dispatch.dispatch_due(session, gateway, MORNING + timedelta(minutes=1))
        assert (dispatched.sent, dispatched.failed) == (1, 1)

    client = TestClient(receipt_app)  # the gateway: no session, no CSRF token
    url = "/api/v1/sms/delivery-receipts"
    receipt = {
        "receipts": [
            {"message_id": "gw-a", "status": "delivered", "at": "2026-11-24T02:01:30Z"},
            {"message_id": "nope", "status": "delivered"},
        ]
    }
    assert client.post(url, json=receipt).status_code == 401
    assert (
        client.post(url, json=receipt, headers={"X-SMS-Callback-Token": "wrong"}).status_code == 401
    )
    assert login(receipt_app, "director").post(url, json=receipt).status_code == 401
    ok = client.post(url, json=receipt, headers={"X-SMS-Callback-Token": "cb-token"})
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"updated": 1, "unchanged": 0, "unknown": ["nope"]}
    repeat = client.post(url, json=receipt, headers={"X-SMS-Callback-Token": "cb-token"})
    assert repeat.json()["unchanged"] == 1
    with session_scope(engine) as session:
        delivered = session.get(SmsMessage, first)
        failed = session.get(SmsMessage, second)
        assert delivered is not None and failed is not None
        assert delivered.status == "delivered"
        assert _aware(delivered.delivered_at) == datetime(2026, 11, 24, 2, 1, 30, tzinfo=UTC)
        assert (failed.status, failed.error) == ("failed", "bad number")
    # without a configured token every receipt is refused
    closed = TestClient(create_app(Settings(secret_key="k", home=Path("/tmp")), engine))
    assert closed.post(url, json=receipt, headers={"X-SMS-Callback-Token": ""}).status_code == 401


def test_campaign_send_goes_to_the_treated_members_only(
    app: FastAPI, engine: Engine, world: int, people: dict[str, int], branches: dict[str, int]
) -> None:
    campaign = add_campaign(engine, branches["city"], people["head"])
    with session_scope(engine) as session:
        session.add_all(
            [
                CampaignMember(campaign_id=campaign, subscriber_id="S00003", arm="treated"),
                CampaignMember(campaign_id=campaign, subscriber_id="S00004", arm="holdout"),
            ]
        )
    head = login(app, "head")
    body = {"template_id": world, "campaign_id": campaign, "variables": {"amount": "50"}}
    response = head.post("/api/v1/sms/bulk", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["requested"] == 1
    with session_scope(engine) as session:
        assert list(session.scalars(select(SmsMessage.subscriber_id))) == ["S00003"]
    neither = head.post("/api/v1/sms/bulk", json={"template_id": world})
    assert neither.status_code == 422 and "campaign_id" in neither.text


def test_the_confirmation_of_an_accepted_offer_goes_out_past_the_caps_audited(
    app: FastAPI, engine: Engine, world: int, people: dict[str, int]
) -> None:
    """The customer accepted on the phone after today's SMS: the confirmation is sent all the
    same (the rule it went over kept and audited); an ordinary SMS is still refused, and a
    confirmation must name an active acceptance of this customer."""
    earlier = datetime.now(UTC) - timedelta(days=2)
    calls = {sid: add_contact(engine, sid, earlier) for sid in ("S00002", "S00003")}
    with session_scope(engine) as session:
        mine, theirs = (
            Acceptance(
                subscriber_id=sid,
                policy_id="keep168",
                contact_id=calls[sid],
                channel="outbound_call",
                at=earlier,
                status="active",
                cost=10.0,
            )
            for sid in ("S00002", "S00003")
        )
        session.add_all([mine, theirs])
        session.flush()
        mine_id, theirs_id = mine.id, theirs.id
    agent = login(app, "agent")
    url = "/api/v1/sms/messages"
    assert agent.post(url, json={"subscriber_id": "S00002", "body": "您好"}).status_code == 201
    refused = agent.post(url, json={"subscriber_id": "S00002", "body": "再次提醒"})
    assert refused.status_code == 409 and refused.json()["blocked_reason"] == "cap_day"
    confirmation = {"subscriber_id": "S00002", "body": "您已成功办理", "acceptance_id": mine_id}
    sent = agent.post(url, json=confirmation)
    assert sent.status_code == 201, sent.text
    assert sent.json()["status"] in ("queued", "scheduled")
    wrong = agent.post(url, json={**confirmation, "acceptance_id": theirs_id})
    assert wrong.status_code == 422 and "acceptance_id" in wrong.text
    with session_scope(engine) as session:
        contacts = session.execute(
            select(Contact.status, Contact.over_rule)
            .where(Contact.subscriber_id == "S00002")
            .order_by(Contact.id)
        ).all()
        audited = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "contact_over_rule")
        ).all()
    assert [tuple(c) for c in contacts] == [
        ("sent", None),  # the call the customer accepted on
        ("sent", None),
        ("blocked", None),
        ("sent", "cap_day"),
    ]
    assert len(audited) == 1 and '"rule": "cap_day"' in (audited[0] or "")
