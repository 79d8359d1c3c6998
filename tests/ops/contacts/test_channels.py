"""Channel endpoints: dialer call list and result import, self-service, quality inspection."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select

from api_helpers import login
from customer_fixtures import publish_customers, publish_rules
from weiwan.core.db import session_scope
from weiwan.ops.contacts.models import Acceptance, Contact, ContactOutcome
from weiwan.ops.org.models import AuditEvent
from weiwan.ops.tasks.models import Task
from weiwan.ops.tasks.service import TaskSpec, create_tasks

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def calls(engine: Engine, branches: dict[str, int], people: dict[str, int]) -> list[int]:
    """Three queued outbound tasks of the city branch, one store task."""
    publish_customers(engine, branches["city"], 4)
    publish_rules(engine, {"channels": {"outbound_call": {"caps": {"day": 2}}}})
    with session_scope(engine) as session:
        create_tasks(
            session,
            [
                TaskSpec(
                    subscriber_id=f"S0000{i}",
                    source="manual",
                    origin="list",
                    channel="outbound_call" if i < 4 else "store",
                    policy_id="keep168",
                )
                for i in range(1, 5)
            ],
        )
        return [t.id for t in session.scalars(select(Task).order_by(Task.id))]


def _csv(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def test_call_list_export_is_a_permission_and_audited(
    app: FastAPI, engine: Engine, calls: list[int]
) -> None:
    assert login(app, "agent").get("/api/v1/outbound/call-list").status_code == 403
    head = login(app, "head")
    response = head.get("/api/v1/outbound/call-list")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [int(r["task_id"]) for r in rows] == calls[:3]
    assert rows[0]["msisdn"] == "13800000001" and rows[0]["script"]
    book = load_workbook(
        io.BytesIO(head.get("/api/v1/outbound/call-list", params={"format": "xlsx"}).content)
    )
    assert book.worksheets[0].max_row == 4  # header + 3 calls
    with session_scope(engine) as session:
        exports = session.scalar(select(func.count()).where(AuditEvent.action == "export"))
    assert exports == 2


def test_result_import_records_once_and_rejects_bad_files_whole(
    app: FastAPI, engine: Engine, calls: list[int]
) -> None:
    head = login(app, "head")
    good = _csv(
        [
            {
                "task_id": str(calls[0]),
                "called_at": "2026-11-24 10:05",
                "outcome": "connected|accepted",
                "refusal_reason": "",
                "policy_id": "keep168",
                "note": "",
            },
            {
                "task_id": str(calls[1]),
                "called_at": "2026-11-24 10:10",
                "outcome": "connected|refused",
                "refusal_reason": "资费贵",
                "policy_id": "",
                "note": "再议",
            },
            {
                "task_id": str(calls[2]),
                "called_at": "2026-11-24 10:15",
                "outcome": "not_reached",
                "refusal_reason": "",
                "policy_id": "",
                "note": "",
            },
        ]
    )
    first = head.post("/api/v1/outbound/results", files={"file": ("results.csv", good, "text/csv")})
    assert first.status_code == 200, first.text
    assert first.json()["recorded"] == 3
    again = head.post("/api/v1/outbound/results", files={"file": ("results.csv", good, "text/csv")})
    assert again.json()["recorded"] == 0 and again.json()["unchanged"] == 3
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 3
        statuses = dict(session.execute(select(Task.id, Task.status)).all())
    assert (
        statuses[calls[0]] == "done"
        and statuses[calls[1]] == "done"
        and statuses[calls[2]] == "open"
    )
    assert statuses[calls[3]] == "open"  # another subscriber's task

    bad = _csv(
        [
            {
                "task_id": str(calls[2]),
                "called_at": "2026-11-24 11:00",
                "outcome": "connected",
                "refusal_reason": "",
                "policy_id": "",
                "note": "",
            },
            {
                "task_id": "abc",
                "called_at": "2026-11-24 11:05",
                "outcome": "connected",
                "refusal_reason": "",
                "policy_id": "",
                "note": "",
            },
            {
                "task_id": str(calls[2]),
                "called_at": "yesterday",
                "outcome": "refused",
                "refusal_reason": "",
                "policy_id": "",
                "note": "",
            },
            {
                "task_id": "999999",
                "called_at": "2026-11-24 11:10",
                "outcome": "connected",
                "refusal_reason": "",
                "policy_id": "",
                "note": "",
            },
        ]
    )
    refused = head.post("/api/v1/outbound/results", files={"file": ("bad.csv", bad, "text/csv")})
    assert refused.status_code == 422
    problems = {(e["row"], e["column"]) for e in refused.json()["errors"]}
    assert problems == {(3, "task_id"), (4, "called_at"), (5, "task_id")}
    assert "bad.csv: row 3, task_id" in refused.json()["detail"]
    with session_scope(engine) as session:  # nothing of the bad file stored
        assert session.scalar(select(func.count()).select_from(Contact)) == 3
        outcomes = sorted(session.scalars(select(ContactOutcome.outcome)))
    assert outcomes == ["accepted", "connected", "connected", "not_reached", "refused"]


def test_missing_columns_are_named(app: FastAPI, calls: list[int]) -> None:
    response = login(app, "head").post(
        "/api/v1/outbound/results",
        files={"file": ("r.csv", _csv([{"task": "1", "when": "x"}]), "text/csv")},
    )
    assert response.status_code == 422
    assert {e["column"] for e in response.json()["errors"]} == {"task_id", "called_at", "outcome"}


def test_self_service_order_closes_other_channels(
    app: FastAPI, engine: Engine, calls: list[int]
) -> None:
    clerk = login(app, "clerk")
    offers = clerk.get("/api/v1/self-service/S00004/offers").json()
    assert [o["policy_id"] for o in offers] == ["care_call", "data10", "keep168"]
    bad = clerk.post("/api/v1/self-service/S00004/orders", json={"policy_id": "nope"})
    assert bad.status_code == 422 and bad.json()["field"] == "policy_id"
    ok = clerk.post("/api/v1/self-service/S00004/orders", json={"policy_id": "keep168"})
    assert ok.status_code == 201
    assert ok.json()["closed_task_ids"] == [calls[3]]
    twice = clerk.post("/api/v1/self-service/S00004/orders", json={"policy_id": "keep168"})
    assert twice.status_code == 409
    left = clerk.get("/api/v1/self-service/S00004/offers").json()
    assert [o["policy_id"] for o in left] == ["care_call", "data10"]  # withdrawn once accepted
    with session_scope(engine) as session:
        channel = session.scalar(
            select(Acceptance.channel).where(Acceptance.policy_id == "keep168")
        )
    assert channel == "store"  # the clerk took the order in the store
    assert login(app, "outsider").get("/api/v1/self-service/S00004/offers").status_code == 404


def test_quality_inspection_by_the_shift_lead(
    app: FastAPI, engine: Engine, calls: list[int], people: dict[str, int]
) -> None:
    agent = login(app, "agent")
    assert agent.post(f"/api/v1/tasks/{calls[0]}/claim").status_code == 200
    at = datetime(2026, 11, 24, 10, 0, tzinfo=TZ).isoformat()
    made = agent.post(
        "/api/v1/contacts",
        json={
            "subscriber_id": "S00001",
            "channel": "outbound_call",
            "task_id": calls[0],
            "outcomes": [{"outcome": "connected"}],
            "at": at,
        },
    )
    contact_id = made.json()["contact"]["id"]
    body = {"recording_ref": "rec://2026/11/24/0001.wav", "score": 86, "comments": "开场白规范"}
    assert agent.post(f"/api/v1/contacts/{contact_id}/inspections", json=body).status_code == 403
    lead = login(app, "lead")
    assert (
        lead.post(
            f"/api/v1/contacts/{contact_id}/inspections", json={**body, "score": 101}
        ).status_code
        == 422
    )
    created = lead.post(f"/api/v1/contacts/{contact_id}/inspections", json=body)
    assert created.status_code == 201 and created.json()["score"] == 86


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("r.csv", b"task_id,called_at,outcome\n1,\x00,x\n"),
        ("r.xlsx", b"not a workbook"),
        ("r.csv", b"\xff\xfe\x00"),
    ],
)
def test_unreadable_files_are_422(
    app: FastAPI, calls: list[int], name: str, content: bytes
) -> None:
    response = login(app, "head").post("/api/v1/outbound/results", files={"file": (name, content)})
    assert response.status_code == 422
    assert response.json()["errors"][0]["row"] in (1, 2)  # the file, or its first data row
