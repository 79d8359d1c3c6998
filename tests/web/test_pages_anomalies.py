"""The anomaly pool page: zh and en, scope, filters and counts, assign / handle / dismiss by
htmx, the audited export, and Chinese for every text of the page."""

from __future__ import annotations

import json
from io import BytesIO

import pytest
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy import Engine, select

from anomaly_fixtures import pool_entry
from customer_fixtures import publish_customers
from web.i18n_catalog import missing_chinese
from web.page_helpers import page_login
from weiwan.core.db import session_scope
from weiwan.ops.anomalies.models import Anomaly
from weiwan.ops.org.models import AuditEvent
from weiwan.ops.tasks.models import CustomerAssignment, Task

SQLITE = pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
OWN_FILES = ("pages/anomalies.py", "pages/anomaly_evidence.py", "templates/anomalies/")


@pytest.fixture
def pool(engine: Engine, branches: dict[str, int], people: dict[str, int]) -> dict[str, int]:
    """``own``: S00001 managed by agent (billing); ``other``: S00002 managed by agent2
    (disconnection, rural branch)."""
    publish_customers(engine, branches["city"], 2)
    with session_scope(engine) as session:
        session.add_all(
            [
                CustomerAssignment(
                    subscriber_id="S00001", kind="retention_manager", user_id=people["agent"]
                ),
                CustomerAssignment(
                    subscriber_id="S00002", kind="retention_manager", user_id=people["agent2"]
                ),
            ]
        )
        own = pool_entry("S00001", branches["city"], account_manager="Agent")
        other = pool_entry(
            "S00002",
            branches["rural_a"],
            rule_id="disconnect_request",
            period_key="2026-10-30",
            category="disconnection",
            severity="critical",
            name_zh="拆机申请",
            name_en="Disconnect request",
            evidence=json.dumps({"last_disconnect_date": "2026-10-30", "status": "disconnected"}),
        )
        session.add_all([own, other])
        session.flush()
        return {"own": own.id, "other": other.id}


def _row_ids(html: str) -> set[int]:
    import re

    return {int(n) for n in re.findall(r'<tr id="anomaly-(\d+)"', html)}


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_page_renders_in_both_languages_within_scope(
    app: FastAPI, pool: dict[str, int], language: str
) -> None:
    lead = page_login(app, "lead", language)
    html = lead.get("/anomalies").text
    assert _row_ids(html) == {pool["own"], pool["other"]}
    if language == "en":
        assert "Anomaly pool" in html and "Bill far above own mean" in html
        assert "Billing" in html and "CN¥160.00" in html and "Oct 2026" in html
    else:
        assert "异常库" in html and "账单异常偏高" in html and "拆机申请" in html
        assert "Bill far above own mean" not in html
        assert "当月账单" in html and "¥160.00" in html and "2026年10月" in html
    assert "bill_1m" not in html and "last_disconnect_date" not in html
    assert 'data-rule="bill_far_above" data-value="1"' in html
    agent = page_login(app, "agent", language).get("/anomalies").text
    assert _row_ids(agent) == {pool["own"]}
    assert 'name="assignee_id"' not in agent  # agents do not assign
    assert page_login(app, "admin", language).get("/anomalies").status_code == 403


def test_filters_narrow_the_list_and_the_counts(app: FastAPI, pool: dict[str, int]) -> None:
    lead = page_login(app, "lead", "en")
    html = lead.get("/anomalies", params={"category": "disconnection"}).text
    assert _row_ids(html) == {pool["other"]}
    assert 'data-key="total" data-value="1"' in html
    html = lead.get("/anomalies", params={"account_manager": "Agent"}).text
    assert _row_ids(html) == {pool["own"]}
    bad = lead.get("/anomalies", params={"detected_from": "yesterday"})
    assert bad.status_code == 422
    html = lead.get("/anomalies", params={"subscriber_id": "S00002"}).text
    assert _row_ids(html) == {pool["other"]}


def test_a_subscriber_without_a_card_is_not_a_dead_link(
    app: FastAPI, engine: Engine, branches: dict[str, int], pool: dict[str, int]
) -> None:
    with session_scope(engine) as session:  # left the network: an anomaly, but no card
        gone = pool_entry("S09999", branches["city"], rule_id="arrears_after_suspension")
        session.add(gone)
        session.flush()
        gone_id = gone.id
    director = page_login(app, "director")
    html = director.get("/anomalies").text
    assert _row_ids(html) >= {pool["own"], gone_id}
    assert 'href="/customers/S00001"' in html and 'href="/customers/S09999"' not in html
    assert "今日无客户视图" in html
    assert director.get("/customers/S00001").status_code == 200


def test_assign_handle_dismiss_by_htmx(
    app: FastAPI, engine: Engine, pool: dict[str, int], people: dict[str, int]
) -> None:
    lead = page_login(app, "lead", "en")
    htmx = {"HX-Request": "true"}
    assigned = lead.post(
        f"/anomalies/{pool['own']}/assign",
        data={"assignee_id": str(people["agent2"])},
        headers=htmx,
    )
    assert assigned.status_code == 200, assigned.text
    assert 'data-status="assigned"' in assigned.text and "Agent2" in assigned.text
    with session_scope(engine) as session:
        entry = session.get(Anomaly, pool["own"])
        assert entry is not None and entry.task_id is not None
        task = session.get(Task, entry.task_id)
        assert task is not None and task.assignee_id == people["agent2"]
    empty = lead.post(f"/anomalies/{pool['own']}/handle", data={"note": " "}, headers=htmx)
    assert empty.status_code == 422
    handled = page_login(app, "agent2", "en").post(
        f"/anomalies/{pool['own']}/handle", data={"note": "called, bill explained"}, headers=htmx
    )
    assert handled.status_code == 200 and 'data-status="handled"' in handled.text
    again = lead.post(f"/anomalies/{pool['own']}/dismiss", data={"note": "x"}, headers=htmx)
    assert again.status_code == 409
    dismissed = lead.post(
        f"/anomalies/{pool['other']}/dismiss", data={"note": "测试号码", "next": "/anomalies"}
    )
    assert dismissed.status_code == 303
    with session_scope(engine) as session:
        entry = session.get(Anomaly, pool["other"])
        assert entry is not None and (entry.status, entry.note) == ("dismissed", "测试号码")


def test_export_is_audited_and_refused_without_permission(
    app: FastAPI, engine: Engine, pool: dict[str, int], people: dict[str, int]
) -> None:
    assert page_login(app, "lead").get("/anomalies?export=xlsx").status_code == 403
    response = page_login(app, "head", "en").get("/anomalies?export=xlsx&category=billing")
    assert response.status_code == 200
    sheet = load_workbook(BytesIO(response.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("No.", "Detected") and [r[0] for r in rows[1:]] == [pool["own"]]
    with session_scope(engine) as session:
        event = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "export", AuditEvent.target_id == "/anomalies"
            )
        ).one()
        assert event.user_id == people["head"]


def test_every_text_of_the_anomaly_page_has_chinese() -> None:
    missing = {
        msgid: where
        for msgid, where in missing_chinese().items()
        if any(own in place for place in where for own in OWN_FILES)
    }
    assert missing == {}


def test_evidence_reads_in_the_readers_language() -> None:
    """Every evidence field of the shipped rules has a label; money, months, dates, ratios and
    codes are written per language; a field added by a rule editor still reads."""
    from weiwan.analytics.alerts import DEFAULT_ANOMALY_FILES, load_rules
    from weiwan.web.i18n import use_locale
    from weiwan.web.pages.anomaly_evidence import FIELDS, evidence_items, evidence_text

    shipped = {f for rule in load_rules(DEFAULT_ANOMALY_FILES).rules for f in rule.evidence}
    assert shipped and shipped <= set(FIELDS)
    evidence = json.dumps(
        {
            "bill_month": "2026-10-01",
            "arrears_1m": 1234.5,
            "bill_ratio_prev_3m": 2.04949,
            "last_suspension_type": "suspend_arrears",
            "status": "ported_out",
            "last_suspension_date": "2026-10-08",
            "days_since_port_out": 3,
            "bill_1m": None,
        }
    )
    with use_locale("zh-CN"):
        zh = evidence_items(evidence)
    with use_locale("en"):
        en = evidence_items(evidence)
        line = evidence_text(evidence)
    assert zh == [
        ("账期", "2026年10月"),
        ("欠费金额", "¥1,234.50"),
        ("与均值之比", "2.05倍"),
        ("最近停机", "欠费停机"),
        ("用户状态", "已携出"),
        ("停机日期", "2026/10/8"),
        ("days since port out", "3"),
        ("当月账单", "—"),
    ]
    assert en[:6] == [
        ("Bill month", "Oct 2026"),
        ("Arrears", "CN¥1,234.50"),
        ("Bill vs mean", "2.05×"),
        ("Last suspension", "Arrears suspension"),
        ("Line status", "Ported out"),
        ("Suspended on", "10/8/26"),
    ]
    assert line.startswith("Bill month: Oct 2026; Arrears: CN¥1,234.50;")
    assert evidence_items("not json") == [("", "not json")]
