"""The dashboards' figures: published rates added up within the reader's scope, live rates
and league tables from the operational records, the arrows' 5 % rule and the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api_helpers import login
from report_fixtures import OCT, SEPT, _call, seed
from sms_fixtures import actor
from weiwan.core.db import session_scope
from weiwan.core.errors import PermissionDeniedError
from weiwan.core.ttl_cache import TTLCache
from weiwan.ops.reports import common as reports_common
from weiwan.ops.reports import live as reports_live
from weiwan.ops.reports import published as reports_published
from weiwan.ops.reports import service

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def seeded(engine: Engine, branches: dict[str, int], people: dict[str, int]) -> Engine:
    seed(engine, branches, people)
    return engine


def _month() -> datetime:
    return datetime.now(TZ)


def _rates(session: Session, user: int) -> dict[str, tuple[int, int]]:
    rates = reports_live.live_rates(session, actor(session, user), _month().date(), TZ)
    return {r.name: (r.numerator, r.denominator) for r in rates}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.051, "up"), (0.05, None), (-0.05, None), (-0.051, "down"), (None, None), (0.0, None)],
)
def test_arrow_beyond_five_percent(value: float | None, expected: str | None) -> None:
    assert reports_common.arrow(value) == expected


def test_change_is_relative_to_the_reference() -> None:
    assert reports_common.change(0.9, 0.8) == pytest.approx(0.125)
    assert reports_common.change(1.0, 0) is None and reports_common.change(None, 1.0) is None


def test_published_rates_add_up_within_scope(seeded: Engine, people: dict[str, int]) -> None:
    with session_scope(seeded) as session:
        director = actor(session, people["director"])
        head = actor(session, people["head"])
        series = reports_published.series(session, director, "churn_rate")
        trend = {f.period: f.value for f in series}
        assert trend == {SEPT: pytest.approx(40 / 2000), OCT: pytest.approx(32 / 2000)}
        # the centre head sees the city branch (and its sub-branches) only
        mine = {f.period: f.value for f in reports_published.series(session, head, "churn_rate")}
        assert mine == {SEPT: pytest.approx(0.01), OCT: pytest.approx(0.012)}
        brand = reports_published.series(session, director, "churn_rate", "brand", period=OCT)
        assert {f.member: f.value for f in brand} == {
            "X": pytest.approx(28 / 1600),
            "Y": pytest.approx(4 / 400),
        }
        branches = reports_published.by_branch(session, head, "churn_rate", OCT)
        assert [(b.branch, b.numerator) for b in branches] == [("杭州分公司", 12)]
        analysis = service.churn_analysis(session, director)
        reasons = {f.member: f.value for f in analysis.parts["churn_reason:reason"]}
        assert reasons["price"] == pytest.approx(23 / 32)
        assert analysis.leavers == 32
        head_reasons = service.churn_analysis(session, head).parts["churn_reason:reason"]
        assert {f.member: f.value for f in head_reasons}["price"] == pytest.approx(3 / 12)


def test_satisfaction_panorama_arrows(seeded: Engine, people: dict[str, int]) -> None:
    with session_scope(seeded) as session:
        panorama = service.satisfaction(session, actor(session, people["director"]), OCT, TZ)
        kpis = {k.name: k for k in panorama.kpis}
        rate = kpis["satisfaction_rate"]
        assert rate.value == pytest.approx(0.70) and rate.previous == pytest.approx(0.65)
        assert rate.arrow == "up"  # +7.7 % on September
        assert rate.target == 0.85 and rate.target_arrow == "down"  # 17.6 % below the target
        assert kpis["dissatisfaction_rate"].arrow == "down"  # halved
        assert kpis["complaint_rate"].value == pytest.approx(5.0)  # per 1,000
        assert kpis["complaint_rate"].arrow is None  # unchanged
        head = service.satisfaction(session, actor(session, people["head"]), OCT, TZ)
        mine = {k.name: k for k in head.kpis}["satisfaction_rate"]
        assert mine.value == pytest.approx(0.9) and mine.target_arrow == "up"  # 5.9 % above


@pytest.mark.parametrize("empty_engine", ["sqlite", "postgresql"], indirect=True)
def test_live_rates_and_league_tables(seeded: Engine, people: dict[str, int]) -> None:
    with session_scope(seeded) as session:
        everyone = _rates(session, people["director"])
        assert everyone["connect_rate"] == (6, 7)
        assert everyone["retention_success_rate"] == (3, 6)  # the return visit is outside campaigns
        assert everyone["marketing_success_rate"] == (0, 1)
        assert everyone["participation_rate"] == (1, 2)
        assert everyone["visit_coverage"] == (1, 2)
        assert everyone["visit_success"] == (1, 2)  # reached ÷ new joins (the seeds)
        assert everyone["visit_feedback"] == (1, 1)
        team = _rates(session, people["lead"])
        assert team["connect_rate"] == (4, 5)
        assert team["retention_success_rate"] == (1, 4)
        start, end = reports_common.month_bounds(_month().date(), TZ)
        director = actor(session, people["director"])
        agents = reports_live.league(session, director, "agent", start, end)
        assert [(a.name, a.accepted, a.reached) for a in agents] == [
            ("Outsider", 2, 2),
            ("Agent", 1, 4),
        ]
        lead = actor(session, people["lead"])
        agents = reports_live.league(session, lead, "agent", start, end)
        assert [a.name for a in agents] == ["Agent"]
        teams = reports_live.league(session, director, "team", start, end)
        assert [(t.name, t.contacts) for t in teams] == [("—", 2), ("早班", 5)]
        branches = reports_live.league(session, lead, "branch", start, end)
        assert [(b.name, b.contacts) for b in branches] == [("杭州分公司", 5)]


def test_dissatisfied_list_is_scoped_and_masked(seeded: Engine, people: dict[str, int]) -> None:
    with session_scope(seeded) as session:
        head = service.dissatisfied(session, actor(session, people["head"]))
        assert [r.subscriber_id for r in head.rows] == ["S00001"]
        assert head.rows[0].msisdn == "13800000001"  # the centre head may see numbers
        lead = service.dissatisfied(session, actor(session, people["lead"]))
        assert [r.subscriber_id for r in lead.rows] == ["S00001"]  # managed by the team
        assert "****" in (lead.rows[0].msisdn or "")
        analyst = service.dissatisfied(session, actor(session, people["analyst"]))
        assert analyst.total == 2 and len(analyst.rows) == 2
        assert all("****" in (r.msisdn or "") for r in analyst.rows)
        second = service.dissatisfied(session, actor(session, people["analyst"]), limit=1, offset=1)
        assert second.total == 2 and len(second.rows) == 1
        beyond = service.dissatisfied(session, actor(session, people["analyst"]), offset=5)
        assert beyond.total == 2 and beyond.rows == []
        assert service.dissatisfied(session, actor(session, people["lead"])).total == 1


def test_model_monitor_for_planners_only(seeded: Engine, people: dict[str, int]) -> None:
    with session_scope(seeded) as session:
        monitor = service.model_monitor(session, actor(session, people["analyst"]))
        assert [(f.period, f.value) for f in monitor.auc] == [(SEPT, 0.71)]
        assert [f.member for f in monitor.drift] == ["arpu_1m"]
        assert [f.value for f in monitor.score_psi] == [0.05]
        with pytest.raises(PermissionDeniedError):
            service.model_monitor(session, actor(session, people["lead"]))
        with pytest.raises(PermissionDeniedError):
            service.overview(session, actor(session, people["agent"]), OCT, TZ)


@pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
def test_api_routes(seeded: Engine, app: FastAPI, people: dict[str, int]) -> None:
    client = login(app, "director")
    month = _month().strftime("%Y-%m")
    overview = client.get("/api/v1/reports/overview", params={"month": month}).json()
    assert [f["value"] for f in overview["churn_trend"]] == [
        pytest.approx(0.02),
        pytest.approx(0.016),
    ]
    rates = {r["name"]: (r["numerator"], r["denominator"]) for r in overview["rates"]}
    assert rates["connect_rate"] == (6, 7)
    satisfaction = client.get("/api/v1/reports/satisfaction", params={"month": "2026-10"})
    kpis = {k["name"]: k for k in satisfaction.json()["kpis"]}
    assert kpis["satisfaction_rate"]["arrow"] == "up"
    assert client.get("/api/v1/reports/churn").json()["leavers"] == 32
    assert client.get("/api/v1/reports/models").status_code == 200
    assert client.get("/api/v1/reports/dissatisfied").json()["total"] == 2
    for bad in ("2026-13", "9999-12", "0001-01"):
        assert client.get("/api/v1/reports/overview", params={"month": bad}).status_code == 422
    agent = login(app, "agent")
    for path in ("overview", "satisfaction", "churn", "models", "dissatisfied"):
        assert agent.get(f"/api/v1/reports/{path}").status_code == 403
    assert login(app, "lead").get("/api/v1/reports/models").status_code == 403


def test_live_counts_are_reused_for_a_minute_then_counted_again(
    seeded: Engine, people: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    live = TTLCache[tuple[Any, ...], Any](reports_live.LIVE_SECONDS, clock=lambda: clock[0])
    monkeypatch.setattr(reports_live, "_live", live)
    with session_scope(seeded) as session:
        before = _rates(session, people["director"])["connect_rate"]
        _call(session, "S00001", people["agent"], "connected")
        assert _rates(session, people["director"])["connect_rate"] == before  # reused
        assert _rates(session, people["lead"])["connect_rate"] != before  # another scope
        clock[0] += reports_live.LIVE_SECONDS + 1
        after = _rates(session, people["director"])["connect_rate"]
    assert after == (before[0] + 1, before[1] + 1)
