"""The consent and objection ledger: agents record what the customer says (role and scope
checked, audited), the contact checks and the card follow it at once, the latest statement
wins whatever order statements arrive in, and the CRM's file is imported whole or not at all,
once."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from api_helpers import login
from customer_fixtures import publish_customers, publish_rules
from sms_fixtures import assign
from weiwan.cli import app as cli
from weiwan.core.db import make_engine, session_scope
from weiwan.core.settings import get_settings
from weiwan.ops.consents.imports import ConsentFileError, import_consents
from weiwan.ops.consents.models import Consent, ConsentEvent
from weiwan.ops.consents.service import Statement, objections_of, record_statements
from weiwan.ops.contacts.policy_check import check_contact
from weiwan.ops.contacts.rules import current_rules
from weiwan.ops.migrate import upgrade
from weiwan.ops.org.models import AuditEvent

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime.now(UTC)
CALL_CHANNELS = ("outbound_call", "account_manager_call")
CRM_FILE = (
    "subscriber_id,purpose,channel,state,effective_at,reference\n"
    "S00001,marketing_sms,,objection,2026-11-01,crm-1\n"
    "S00001,outbound_call,all,objection,2026-11-02 10:00,crm-2\n"
    "S00002,automated_decision,all,objection,2026-11-03T10:00:00+08:00,crm-3\n"
    "S00002,outbound_call,account_manager_call,consent,2026-11-03,\n"
)


@pytest.fixture
def city(engine: Engine, branches: dict[str, int], people: dict[str, int]) -> Engine:
    """S00001–S00003 of the city branch, managed by ``agent``; S00004 by nobody; no caps."""
    publish_customers(engine, branches["city"], 4)
    assign(engine, ["S00001", "S00002", "S00003"], people["agent"])
    publish_rules(engine, {})
    return engine


def _states(client: TestClient, sid: str) -> dict[str, tuple[bool, str | None, object]]:
    answer = client.get(f"/api/v1/customers/{sid}/contact-state")
    assert answer.status_code == 200, answer.text
    return {s["channel"]: (s["allowed"], s["reason"], s["next_allowed_at"]) for s in answer.json()}


def test_an_agents_objection_blocks_calls_at_once_and_the_card_shows_it(
    app: FastAPI, city: Engine, people: dict[str, int]
) -> None:
    agent = login(app, "agent")
    url = "/api/v1/customers/S00001/consents"
    body = {"purpose": "outbound_call", "state": "objection", "reference": "rec-2026-001"}
    made = agent.post(url, json=body)
    assert made.status_code == 201, made.text
    assert made.json()["channel"] == "all" and made.json()["source"] == "agent"
    assert made.json()["recorded_by"] == people["agent"]
    states = _states(agent, "S00001")
    for channel in CALL_CHANNELS:  # never by itself: only the customer's consent lifts it
        assert states[channel] == (False, "objection", None)
    assert states["sms"][0] and states["store"][0]
    card = agent.get("/api/v1/customers/S00001").json()
    assert card["objections"] == [
        {"purpose": "outbound_call", "channel": "account_manager_call"},
        {"purpose": "outbound_call", "channel": "outbound_call"},
    ]
    # a call that took place all the same is recorded, the rule named and audited
    call = agent.post(
        "/api/v1/contacts", json={"subscriber_id": "S00001", "channel": "outbound_call"}
    )
    assert call.status_code == 201 and call.json()["contact"]["over_rule"] == "objection"
    with session_scope(city) as session:
        actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
        audited = session.scalar(select(AuditEvent).where(AuditEvent.action == "consent"))
    assert "contact_over_rule" in actions
    assert audited is not None and audited.user_id == people["agent"]
    assert audited.target_id == "S00001" and '"reference": "rec-2026-001"' in str(audited.detail)
    # the customer consents again to account-manager calls only
    again = {"purpose": "outbound_call", "channel": "account_manager_call", "state": "consent"}
    assert agent.post(url, json=again).status_code == 201
    states = _states(agent, "S00001")
    assert states["account_manager_call"][0] and not states["outbound_call"][0]
    ledger = agent.get(url).json()
    assert [(e["channel"], e["state"]) for e in ledger["history"]] == [
        ("account_manager_call", "consent"),
        ("all", "objection"),
    ]
    assert {(c["channel"], c["state"]) for c in ledger["current"]} == {
        ("account_manager_call", "consent"),
        ("outbound_call", "objection"),
    }


def test_roles_scope_and_bad_input_are_refused_without_storing(app: FastAPI, city: Engine) -> None:
    body = {"purpose": "marketing_sms", "state": "objection"}
    for username in ("admin", "analyst"):  # they read, but do not serve customers
        client = login(app, username)
        assert client.post("/api/v1/customers/S00001/consents", json=body).status_code == 403
        assert client.get("/api/v1/customers/S00001/consents").status_code == 200
    agent = login(app, "agent")
    assert agent.post("/api/v1/customers/S00004/consents", json=body).status_code == 404
    assert login(app, "outsider").get("/api/v1/customers/S00001/consents").status_code == 404
    wrong_channel = {**body, "channel": "outbound_call"}
    answer = agent.post("/api/v1/customers/S00001/consents", json=wrong_channel)
    assert answer.status_code == 422 and "channel: marketing_sms takes" in answer.text
    later = (NOW + timedelta(days=1)).isoformat()
    future = agent.post("/api/v1/customers/S00001/consents", json={**body, "effective_at": later})
    assert future.status_code == 422 and "effective_at" in future.json()["detail"]
    unknown = agent.post("/api/v1/customers/S00001/consents", json={**body, "state": "maybe"})
    assert unknown.status_code == 422
    with session_scope(city) as session:
        assert session.scalar(select(func.count()).select_from(ConsentEvent)) == 0
        assert session.scalar(select(func.count()).select_from(Consent)) == 0


def test_the_statement_in_effect_latest_wins_whatever_order_they_arrive_in(city: Engine) -> None:
    monday = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)
    reply = Statement("S00003", "marketing_sms", "sms", "objection", "sms_reply", monday)
    older = Statement(
        "S00003", "marketing_sms", "all", "consent", "crm_import", monday - timedelta(days=30)
    )
    with session_scope(city) as session:
        record_statements(session, [reply], recorded_by=None)
    with session_scope(city) as session:  # the CRM's older consent arrives after the reply
        assert len(record_statements(session, [older], recorded_by=None).events) == 1
        assert objections_of(session, "S00003") == [("marketing_sms", "sms")]
        again = record_statements(session, [older, reply], recorded_by=None)
        assert (again.events, again.unchanged) == ([], 2)
        newer = Statement(
            "S00003", "marketing_sms", "all", "consent", "agent", monday + timedelta(hours=1)
        )
        record_statements(session, [newer], recorded_by=None)
        assert objections_of(session, "S00003") == []
        assert session.scalar(select(func.count()).select_from(ConsentEvent)) == 3


def test_a_crm_file_with_a_bad_row_stores_nothing_and_names_row_and_column(
    city: Engine,
) -> None:
    bad = CRM_FILE + (
        "S00003,marketing_sms,outbound_call,objection,2026-11-04,\n"
        "S00003,outbound_call,all,objection,04/11/2026,\n"
        "S00003,outbound_call,all,perhaps,2026-11-04,\n"
        f"S00003,outbound_call,all,objection,{(NOW + timedelta(days=2)).date()},\n"
    )
    with session_scope(city) as session, pytest.raises(ConsentFileError) as error:
        import_consents(session, "crm.csv", io.BytesIO(bad.encode()), tz=TZ)
    found = [(e.row, e.column) for e in error.value.errors]
    assert found == [(6, "channel"), (7, "effective_at"), (8, "state"), (9, "effective_at")]
    assert str(error.value).startswith("crm.csv: row 6, channel: 'outbound_call' is not valid")
    missing = "subscriber_id,purpose,state\nS00001,marketing_sms,objection\n"
    with session_scope(city) as session, pytest.raises(ConsentFileError) as error:
        import_consents(session, "crm.csv", io.BytesIO(missing.encode()), tz=TZ)
    assert [(e.row, e.column) for e in error.value.errors] == [(1, "effective_at")]
    with session_scope(city) as session:
        assert session.scalar(select(func.count()).select_from(ConsentEvent)) == 0


def test_importing_the_crm_file_twice_records_it_once(city: Engine) -> None:
    with session_scope(city) as session:
        first = import_consents(session, "crm.csv", io.BytesIO(CRM_FILE.encode()), tz=TZ)
    assert (first.rows, first.recorded, first.unchanged) == (4, 4, 0)
    with session_scope(city) as session:
        second = import_consents(session, "crm.csv", io.BytesIO(CRM_FILE.encode()), tz=TZ)
        current = {
            (c.subscriber_id, c.purpose, c.channel): c.state
            for c in session.scalars(select(Consent))
        }
        effective = session.scalar(
            select(ConsentEvent.effective_at).where(ConsentEvent.reference == "crm-1")
        )
        imports = session.scalar(
            select(func.count()).where(AuditEvent.target_type == "consent_import")
        )
    assert (second.rows, second.recorded, second.unchanged) == (4, 0, 4)
    assert current == {
        ("S00001", "marketing_sms", "sms"): "objection",
        ("S00001", "outbound_call", "outbound_call"): "objection",
        ("S00001", "outbound_call", "account_manager_call"): "objection",
        ("S00002", "automated_decision", "all"): "objection",
        ("S00002", "outbound_call", "account_manager_call"): "consent",
    }
    assert effective == datetime(2026, 11, 1, tzinfo=TZ)  # a date: the start of that local day
    assert imports == 2
    with session_scope(city) as session:  # the imported objections block like an agent's
        rules = current_rules(session)
        for sid, channel, reason in (
            ("S00001", "account_manager_call", "objection"),
            ("S00001", "sms", "objection"),
            ("S00002", "account_manager_call", None),
        ):
            verdict = check_contact(session, rules, sid, channel, NOW, TZ)
            assert verdict.reason == reason, (sid, channel)
        service = check_contact(session, rules, "S00001", "sms", NOW, TZ, marketing=False)
        assert service.allowed


def test_the_cli_imports_a_file_and_explains_a_bad_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    monkeypatch.setenv("WEIWAN_DATABASE_URL", url)
    good, bad = tmp_path / "crm.csv", tmp_path / "bad.csv"
    good.write_text(CRM_FILE, "utf-8")
    bad.write_text(CRM_FILE + "S00009,outbound_call,sms,objection,2026-11-01,\n", "utf-8")
    get_settings.cache_clear()
    try:
        refused = CliRunner().invoke(cli, ["consents", "import", str(bad)])
        done = CliRunner().invoke(cli, ["consents", "import", str(good)])
        again = CliRunner().invoke(cli, ["consents", "import", str(good)])
    finally:
        get_settings.cache_clear()
    assert refused.exit_code == 1
    assert "bad.csv: row 6, channel" in refused.output and "nothing was stored" in refused.output
    assert done.exit_code == 0 and "4 recorded, 0 already recorded" in done.stdout
    assert again.exit_code == 0 and "0 recorded, 4 already recorded" in again.stdout
    engine = make_engine(url)
    try:
        upgrade(engine)
        with session_scope(engine) as session:
            assert session.scalar(select(func.count()).select_from(ConsentEvent)) == 4
    finally:
        engine.dispose()
