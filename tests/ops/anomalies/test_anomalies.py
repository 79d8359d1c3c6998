"""The anomaly pool's API: scope (404 outside it), filters and counts, assigning through the
task path, the status transitions with history, and the audited export."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select

from anomaly_fixtures import pool_entry
from api_helpers import login
from customer_fixtures import publish_customers
from weiwan.core.db import session_scope
from weiwan.ops.anomalies.models import AnomalyChange
from weiwan.ops.org.models import AuditEvent
from weiwan.ops.tasks.models import CustomerAssignment, Task

API = "/api/v1/anomalies"


@pytest.fixture
def pool(engine: Engine, branches: dict[str, int], people: dict[str, int]) -> dict[str, int]:
    """Entries: ``own`` (S00001, managed by agent), ``mate`` (S00004, managed by agent2, a
    disconnection in the rural branch), ``far`` (S00011, other branch, names the outsider as
    account manager), ``old`` (S00002, unmanaged, detected in September)."""
    publish_customers(engine, branches["city"], 4)
    with session_scope(engine) as session:
        session.add_all(
            [
                CustomerAssignment(
                    subscriber_id="S00001", kind="retention_manager", user_id=people["agent"]
                ),
                CustomerAssignment(
                    subscriber_id="S00004", kind="account_manager", user_id=people["agent2"]
                ),
            ]
        )
        entries = {
            "own": pool_entry("S00001", branches["city"]),
            "mate": pool_entry(
                "S00004",
                branches["rural_a"],
                rule_id="port_out_request",
                period_key="2026-10-29",
                category="disconnection",
                severity="critical",
                name_zh="携号转网申请",
                name_en="Port-out request",
                value_tier="ordinary",
                branch_code="HZ-CA",
            ),
            "far": pool_entry(
                "S00011",
                branches["other"],
                branch_code="NB",
                account_manager="Outsider",
                manager_id=people["outsider"],
            ),
            "old": pool_entry("S00002", branches["city"], detected_on=date(2026, 9, 30)),
        }
        session.add_all(entries.values())
        session.flush()
        return {name: entry.id for name, entry in entries.items()}


def _ids(app: FastAPI, user: str, **query: object) -> set[int]:
    response = login(app, user).get(API, params=query)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return {item["id"] for item in body["items"]}


def test_scope_of_each_role(app: FastAPI, pool: dict[str, int]) -> None:
    assert _ids(app, "agent") == {pool["own"]}
    assert _ids(app, "agent2") == {pool["mate"]}
    assert _ids(app, "outsider") == {pool["far"]}  # named as the account manager
    assert _ids(app, "lead") == {pool["own"], pool["mate"]}  # the team's customers
    assert _ids(app, "head") == {pool["own"], pool["mate"], pool["old"]}  # city + rural
    assert _ids(app, "director") == set(pool.values())
    assert _ids(app, "analyst") == set(pool.values())
    assert login(app, "admin").get(API).status_code == 403


def test_out_of_scope_is_answered_like_missing(app: FastAPI, pool: dict[str, int]) -> None:
    agent = login(app, "agent")
    assert agent.get(f"{API}/{pool['own']}").status_code == 200
    hidden = agent.get(f"{API}/{pool['mate']}")
    missing = agent.get(f"{API}/999999")
    assert hidden.status_code == missing.status_code == 404
    assert agent.post(f"{API}/{pool['mate']}/handle", json={"note": "x"}).status_code == 404
    assert login(app, "lead").get(f"{API}/{pool['far']}").status_code == 404


def test_filters_paging_and_summary(app: FastAPI, pool: dict[str, int]) -> None:
    director = "director"
    assert _ids(app, director, category="disconnection") == {pool["mate"]}
    assert _ids(app, director, rule_id="bill_far_above") == {
        pool["own"],
        pool["far"],
        pool["old"],
    }
    assert _ids(app, director, value_tier="ordinary") == {pool["mate"]}
    assert _ids(app, director, account_manager="Outsider") == {pool["far"]}
    assert _ids(app, director, detected_to="2026-09-30") == {pool["old"]}
    assert _ids(app, director, detected_from="2026-10-01", status="new") == {
        pool["own"],
        pool["mate"],
        pool["far"],
    }
    client = login(app, director)
    page = client.get(API, params={"limit": 2, "offset": 2}).json()
    assert page["total"] == 4 and len(page["items"]) == 2
    bad = client.get(API, params={"detected_from": "2026-10-02", "detected_to": "2026-10-01"})
    assert bad.status_code == 422 and "detected_to" in bad.text
    summary = client.get(f"{API}/summary").json()
    assert summary["total"] == 4
    by_rule = {c["key"]: c["count"] for c in summary["by_rule"]}
    assert by_rule == {"bill_far_above": 3, "port_out_request": 1}
    assert {c["key"]: c["count"] for c in summary["by_category"]} == {
        "billing": 3,
        "disconnection": 1,
    }
    mine = login(app, "agent").get(f"{API}/summary").json()
    assert mine["total"] == 1
    assert [(c["key"], c["count"]) for c in mine["by_status"]] == [("new", 1)]


def test_assign_creates_a_task_in_the_assignees_list(
    app: FastAPI, engine: Engine, pool: dict[str, int], people: dict[str, int]
) -> None:
    lead, entry = login(app, "lead"), pool["own"]
    refused = login(app, "agent").post(
        f"{API}/{entry}/assign", json={"assignee_id": people["agent2"]}
    )
    assert refused.status_code == 403
    outside = lead.post(f"{API}/{entry}/assign", json={"assignee_id": people["outsider"]})
    assert outside.status_code == 422 and "assignee_id" in outside.text
    assigned = lead.post(
        f"{API}/{entry}/assign", json={"assignee_id": people["agent2"], "note": "请今天联系"}
    )
    assert assigned.status_code == 200, assigned.text
    body = assigned.json()
    assert body["status"] == "assigned" and body["assignee_id"] == people["agent2"]
    tasks = login(app, "agent2").get("/api/v1/tasks", params={"view": "mine"}).json()
    (task,) = [t for t in tasks if t["id"] == body["task_id"]]
    assert task["subscriber_id"] == "S00001" and task["origin"] == f"anomaly:{entry}"
    assert task["channel"] == "outbound_call" and task["status"] == "open"
    tz = ZoneInfo(app.state.settings.timezone)  # due at the end of the centre's local day
    due = datetime.fromisoformat(task["due_at"]).astimezone(tz)
    assert (due.hour, due.minute, due.second) == (23, 59, 59)
    assert due.date() == datetime.now(tz).date() + timedelta(days=3)
    again = lead.post(f"{API}/{entry}/assign", json={"assignee_id": people["agent"]})
    assert again.status_code == 409 and "assigned" in again.json()["detail"]
    with session_scope(engine) as session:
        assert len(session.scalars(select(Task).where(Task.origin == f"anomaly:{entry}")).all())
    # the assignee now sees the entry (its customer's task is theirs)
    assert entry in _ids(app, "agent2")


def test_transitions_and_history(
    app: FastAPI, engine: Engine, pool: dict[str, int], people: dict[str, int]
) -> None:
    entry = pool["own"]
    login(app, "lead").post(f"{API}/{entry}/assign", json={"assignee_id": people["agent2"]})
    agent = login(app, "agent")  # manages the customer, but the entry is agent2's now
    assert agent.post(f"{API}/{entry}/handle", json={"note": "x"}).status_code == 403
    assert (
        login(app, "analyst").post(f"{API}/{entry}/dismiss", json={"note": "x"}).status_code == 403
    )
    agent2 = login(app, "agent2")
    assert agent2.post(f"{API}/{entry}/handle", json={"note": ""}).status_code == 422
    handled = agent2.post(f"{API}/{entry}/handle", json={"note": "已解释账单，客户认可"})
    assert handled.status_code == 200 and handled.json()["status"] == "handled"
    for action in ("handle", "dismiss"):
        refused = agent2.post(f"{API}/{entry}/{action}", json={"note": "again"})
        assert refused.status_code == 409 and "already handled" in refused.json()["detail"]
    detail = agent2.get(f"{API}/{entry}").json()
    assert [(h["from_status"], h["to_status"]) for h in detail["history"]] == [
        ("new", "assigned"),
        ("assigned", "handled"),
    ]
    assert detail["history"][1]["by_user_id"] == people["agent2"]
    assert detail["note"] == "已解释账单，客户认可"
    assert detail["evidence"]["bill_1m"] == 160.0
    # a new entry may be dismissed at once, with the reason kept
    dismissed = login(app, "head").post(f"{API}/{pool['old']}/dismiss", json={"note": "测试号码"})
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
    with session_scope(engine) as session:
        change = session.scalars(
            select(AnomalyChange).where(AnomalyChange.anomaly_id == pool["old"])
        ).one()
        assert (change.to_status, change.note, change.by_user_id) == (
            "dismissed",
            "测试号码",
            people["head"],
        )


def test_export_is_for_exporters_and_audited(
    app: FastAPI, engine: Engine, pool: dict[str, int], people: dict[str, int]
) -> None:
    for user in ("agent", "lead", "clerk"):
        assert login(app, user).get(f"{API}/export").status_code == 403
    response = login(app, "head").get(f"{API}/export", params={"category": "billing"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    from io import BytesIO

    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(response.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("id", "detected_on", "subscriber_id")
    assert sorted(r[0] for r in rows[1:]) == sorted([pool["own"], pool["old"]])  # city + rural
    with session_scope(engine) as session:
        event = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "export", AuditEvent.target_type == "anomalies"
            )
        ).one()
        assert event.user_id == people["head"] and '"rows": 2' in (event.detail or "")


def test_export_writes_a_note_as_text(app: FastAPI, engine: Engine, pool: dict[str, int]) -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    from weiwan.ops.anomalies.models import Anomaly

    evil = '=HYPERLINK("http://evil","x")'
    with session_scope(engine) as session:
        entry = session.get(Anomaly, pool["own"])
        assert entry is not None
        entry.note = evil
    response = login(app, "director").get(f"{API}/export")
    sheet = load_workbook(BytesIO(response.content)).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == pool["own"])
    note = row[header.index("note")]
    assert note.value == evil and note.data_type == "s"
    assert row[0].data_type == "n"  # the id stays a number
