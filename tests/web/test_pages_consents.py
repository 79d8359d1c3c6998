"""The card's consent and objection form: an agent records what the customer says, the card
shows it (badge, list, the contact rule on the channel) in both languages, and roles that do
not serve customers get no form and 403."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select

from web.page_helpers import page_login
from web.workbench_fixtures import world_fixture  # noqa: F401
from weiwan.core.db import session_scope
from weiwan.ops.consents.models import ConsentEvent
from weiwan.web.audit_labels import detail_text, target_text
from weiwan.web.i18n import use_locale

SQLITE = pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
HX = {"HX-Request": "true"}


@SQLITE
def test_an_agent_records_an_objection_on_the_card_and_the_card_shows_it(
    app: FastAPI, engine: Engine, world: dict[str, Any]
) -> None:
    task_id = world["tasks"][("S00002", "outbound_call")]
    agent = page_login(app, "agent", "en")
    before = agent.get(f"/customers/S00002?task={task_id}")
    assert 'id="record-consent"' in before.text and "No objection recorded." in before.text
    assert 'data-channel="outbound_call" data-allowed="true"' in before.text
    typed = {"what": "outbound_call:all", "state": "objection", "reference": "rec-77"}
    answer = agent.post("/customers/S00002/consents", data=typed, headers=HX)
    assert answer.status_code == 200
    assert "Recorded: the customer objects to Outbound calls, from now on." in answer.text
    assert 'class="objection"' in answer.text
    assert 'data-channel="outbound_call" data-allowed="false"' in answer.text
    assert "the customer objected (consent ledger)" in answer.text
    card = page_login(app, "agent").get(f"/customers/S00002?task={task_id}")
    assert 'objection-badge">已拒绝: 外呼' in card.text
    assert "客户已拒绝（授权记录）" in card.text
    # an incomplete form is explained and stores nothing
    wrong = agent.post(
        "/customers/S00002/consents", data={"what": "marketing_sms:outbound_call"}, headers=HX
    )
    assert "Choose what the customer consents or objects to." in wrong.text
    with session_scope(engine) as session:
        (event,) = session.scalars(select(ConsentEvent)).all()
        assert (event.purpose, event.state, event.reference) == (
            "outbound_call",
            "objection",
            "rec-77",
        )


@SQLITE
@pytest.mark.usefixtures("world")
def test_roles_outside_the_customer_work_get_no_consent_form_and_403(
    app: FastAPI, engine: Engine
) -> None:
    for username in ("admin", "analyst"):
        client = page_login(app, username)
        assert 'id="record-consent"' not in client.get("/customers/S00001").text
        refused = client.post(
            "/customers/S00001/consents",
            data={"what": "marketing_sms:all", "state": "objection"},
            headers=HX,
        )
        assert refused.status_code == 403
    other = page_login(app, "agent2").post(
        "/customers/S00001/consents", data={"what": "marketing_sms:all", "state": "objection"}
    )
    assert other.status_code == 404  # S00001 is not agent2's customer
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(ConsentEvent)) == 0


def test_the_audit_log_names_a_consent_in_the_readers_words() -> None:
    detail = {"purpose": "marketing_sms", "channel": "sms", "state": "objection"}
    stored = json.dumps({**detail, "source": "sms_reply", "reference": "mo-1"})
    with use_locale("zh-CN"):
        assert detail_text(stored) == (
            "处理目的: 营销短信；渠道: 短信；同意或拒绝: 拒绝；来源: 短信回复；凭证编号: mo-1"
        )
        assert target_text("consent_import", "crm.csv") == "授权文件导入 crm.csv"
    with use_locale("en"):
        assert detail_text(json.dumps({"state": "consent", "source": "crm_import"})) == (
            "Consent or objection: Consent; Source: CRM file"
        )
