"""Weekly plans (周计划) and daily checks (每日抽查): who writes, who reads, scope."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import FastAPI

from api_helpers import login
from weiwan.ops.appraisal.work import week_label

API = "/api/v1/appraisal"
TZ = ZoneInfo("Asia/Shanghai")
PLAN = {"goals": "回访20位高价值客户", "target_customers": 20, "notes": "周三培训"}


def _this_week() -> str:
    today = datetime.now(TZ).date()
    return week_label(today - timedelta(days=today.weekday()))


def test_agent_writes_a_plan_and_the_lead_comments(app: FastAPI, people: dict[str, int]) -> None:
    week = _this_week()
    agent = login(app, "agent")
    written = agent.put(f"{API}/weekly-plans/{week}", json=PLAN)
    assert written.status_code == 200, written.text
    assert written.json()["editable"] is True
    rewritten = agent.put(f"{API}/weekly-plans/{week}", json=PLAN | {"target_customers": 25})
    assert rewritten.json()["target_customers"] == 25
    lead = login(app, "lead")
    listed = lead.get(f"{API}/weekly-plans", params={"week": week}).json()
    assert [(p["user_id"], p["target_customers"]) for p in listed] == [(people["agent"], 25)]
    path = f"{API}/weekly-plans/{people['agent']}/{week}/comment"
    commented = lead.post(path, json={"comment": "目标可以再高一点"})
    assert commented.status_code == 200, commented.text
    mine = agent.get(f"{API}/weekly-plans/{people['agent']}/{week}").json()
    assert mine["comment"] == "目标可以再高一点" and mine["comment_by"] == people["lead"]
    assert agent.post(path, json={"comment": "x"}).status_code == 403


def test_plans_are_private_to_their_scope(app: FastAPI, people: dict[str, int]) -> None:
    week = _this_week()
    assert login(app, "agent").put(f"{API}/weekly-plans/{week}", json=PLAN).status_code == 200
    other = login(app, "agent2")
    assert other.get(f"{API}/weekly-plans/{people['agent']}/{week}").status_code == 404
    assert other.get(f"{API}/weekly-plans").json() == []
    outsider_lead = login(app, "outsider")
    assert outsider_lead.get(f"{API}/weekly-plans/{people['agent']}/{week}").status_code == 404
    assert len(login(app, "head").get(f"{API}/weekly-plans").json()) == 1


def test_a_past_week_cannot_be_planned(app: FastAPI, people: dict[str, int]) -> None:
    today = datetime.now(TZ).date()
    past = week_label(today - timedelta(days=today.weekday() + 7))
    response = login(app, "agent").put(f"{API}/weekly-plans/{past}", json=PLAN)
    assert response.status_code == 422 and response.json()["field"] == "week"
    bad = login(app, "agent").put(f"{API}/weekly-plans/2026-48", json=PLAN)
    assert bad.status_code == 422 and bad.json()["field"] == "week"


def test_lead_records_checks_the_agent_sees_them(app: FastAPI, people: dict[str, int]) -> None:
    today = datetime.now(TZ).date()
    lead = login(app, "lead")
    body = {
        "agent_id": people["agent"],
        "day": today.isoformat(),
        "records_checked": 12,
        "findings": "两条记录缺少拒绝原因",
        "result": "needs_correction",
    }
    first = lead.post(f"{API}/daily-checks", json=body)
    assert first.status_code == 200, first.text
    again = lead.post(f"{API}/daily-checks", json=body | {"records_checked": 14})
    assert again.json()["id"] == first.json()["id"]  # re-recording replaces
    seen = login(app, "agent").get(f"{API}/daily-checks").json()
    assert [(c["records_checked"], c["checker_id"]) for c in seen] == [(14, people["lead"])]
    assert login(app, "agent2").get(f"{API}/daily-checks").json() == []
    outsider = lead.post(f"{API}/daily-checks", json=body | {"agent_id": people["outsider"]})
    assert outsider.status_code == 404
    future = lead.post(f"{API}/daily-checks", json=body | {"day": str(today + timedelta(days=1))})
    assert future.status_code == 422
    silent = lead.post(f"{API}/daily-checks", json=body | {"findings": ""})
    assert silent.status_code == 422 and silent.json()["field"] == "findings"
    assert login(app, "agent").post(f"{API}/daily-checks", json=body).status_code == 403
