"""The churn analysis report (流失分析报告): figures counted here from the fixture's rows, equal
to the churn dashboard's (``kpis.churn_analysis``) for the same month, the seeds' treatments,
costs and findings in both languages. (tests/analytics/test_churn_evaluation_report.py is the
churn model's evaluation report, another thing.)"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import ibis
import pandas as pd
import pytest

from kpi_fixtures import build_warehouse
from period_report_fixtures import (
    DECISIONS,
    REASONS,
    SNAPSHOT,
    SUBSCRIBERS,
    _load,
    build_report_warehouse,
)
from weiwan.analytics import kpis
from weiwan.analytics.churn_analysis import TREATMENTS, churn_documents, churn_report
from weiwan.analytics.period_reports import ReportTargets
from weiwan.analytics.warehouse import Warehouse

OCT = date(2026, 10, 1)


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    with build_report_warehouse(tmp_path_factory.mktemp("wh") / "wh.duckdb") as warehouse:
        yield warehouse


def _leavers(branches: set[str] | None = None) -> list[tuple[str, date]]:
    """Leavers of the 12 months up to October 2026, from the fixture's rows."""
    return [
        (sid, left)
        for sid, branch, _b, _c, _j, left in SUBSCRIBERS
        if left is not None
        and date(2025, 11, 1) <= left < date(2026, 11, 1)
        and (branches is None or branch in branches)
    ]


def test_reasons_groups_and_destinations_from_the_rows(wh: Warehouse) -> None:
    doc = churn_report(wh, SNAPSHOT, OCT)
    leavers = _leavers()
    assert doc["leavers"] == len(leavers) == 2  # B and D; F left before the window
    reasons = {r["member"]: r["numerator"] for r in doc["reasons"]}
    assert reasons == {REASONS[s][0]: 1.0 for s, _d in leavers}
    groups = {(g["kind"], g["control"]): g for g in doc["reason_groups"]}
    for sid, _day in leavers:
        kind = kpis.REASON_KINDS[REASONS[sid][0]]
        assert REASONS[sid][0] in {r["member"] for r in groups[kind]["reasons"]}
    assert groups["internal", "controllable"]["leavers"] == 1  # price
    assert groups["external", "uncontrollable"]["share"] == pytest.approx(0.5)  # relocation
    # the seeds: internal and easy to control: fix quickly; external but controllable: weigh
    # and fix systematically; internal, hard to change: plan long term; external, hard to
    # control: work the conditions
    assert groups["internal", "controllable"]["treatment_text"]["zh-CN"] == "集中精力迅速解决"
    assert groups["external", "controllable"]["treatment"] == "weigh_and_fix_systematically"
    assert groups["internal", "uncontrollable"]["treatment"] == "plan_long_term"
    assert groups["external", "uncontrollable"]["treatment"] == "work_the_conditions"
    assert set(TREATMENTS) == {(k, c) for k in ("internal", "external") for c in
                               ("controllable", "uncontrollable")}  # fmt: skip
    destinations = {d["member"]: d["numerator"] for d in doc["destinations"]}
    assert destinations == {"中国电信": 1.0, "unknown": 1.0}
    json.dumps(doc, allow_nan=False)


def test_costs_from_the_rows(wh: Warehouse) -> None:
    doc = churn_report(wh, SNAPSHOT, OCT, targets=ReportTargets(indirect_cost_factor=0.25))
    costs = doc["costs"]
    assert costs["direct"] == 100.0  # B's last bill before leaving; D has no bill
    assert costs["indirect"] == pytest.approx(25.0)
    # B's CLV of 2026-08-31 (before leaving); D's CLV is after leaving: its bills × 12 = 0
    assert costs["lost_future"] == 900.0
    assert costs["lost_future_bill"] == 100.0 * kpis.FUTURE_MONTHS
    spent = sum(d[3] for d in DECISIONS for s, left in _leavers() if d[1] == s and d[0] <= left)
    assert costs["opportunity"] == spent == 20.0
    assert costs["total"] == pytest.approx(100 + 25 + 900 + 20)
    assert costs["per_leaver"] == pytest.approx(costs["total"] / 2)


def test_lost_future_without_clv_is_the_bills(tmp_path: Path) -> None:
    with build_warehouse(tmp_path / "kpi.duckdb") as plain:
        doc = churn_report(plain, date(2026, 10, 31), OCT)
    assert doc["costs"]["lost_future"] == doc["costs"]["lost_future_bill"] > 0


def test_figures_equal_the_dashboards_for_the_month(wh: Warehouse) -> None:
    frame = kpis.churn_analysis(wh, SNAPSHOT)  # what publish_metrics publishes
    hz = ["HZ", "HZ-CA"]
    for branches in (None, hz):
        doc = churn_report(wh, SNAPSHOT, OCT, branches=branches)
        rows = frame if branches is None else frame[frame["branch"].isin(branches)]
        for key, metric, dimension in (
            ("reasons", "churn_reason", "reason"),
            ("destinations", "churn_destination", "destination"),
            ("tenure_leavers", "churn_tenure", "leavers"),
            ("tenure_base", "churn_tenure", "base"),
            ("touchpoints", "churn_touchpoint", "touchpoint"),
        ):
            part = rows[(rows["metric"] == metric) & (rows["dimension"] == dimension)]
            sums = part.groupby("member")[["numerator", "denominator"]].sum()
            got = {r["member"]: (r["numerator"], r["denominator"]) for r in doc[key]}
            assert got == {m: (r["numerator"], r["denominator"]) for m, r in sums.iterrows()}
        cost = rows[rows["metric"] == "churn_cost"].groupby("member")["numerator"].sum()
        assert doc["costs"]["direct"] == cost["direct"]
        assert doc["costs"]["opportunity"] == cost["retention_effort"]
    docs = churn_documents(wh, SNAPSHOT, OCT, scopes={"HZ": hz})
    assert docs["HZ"]["leavers"] == len(_leavers(set(hz))) == 1
    assert docs[None]["leavers"] == 2 and docs["NB"]["leavers"] == 1


def test_an_older_month_and_its_window(wh: Warehouse) -> None:
    doc = churn_report(wh, SNAPSHOT, date(2025, 10, 1))
    # leavers of Nov 2024 – Oct 2025: F only
    assert doc["leavers"] == 1 and doc["reasons"][0]["member"] == "competitor_offer"
    assert doc["destinations"][0]["member"] == "中国移动"
    # the base at the end of October 2025: A, B, D, E
    assert sum(r["numerator"] for r in doc["tenure_base"]) == 4


def test_findings_are_written_from_the_figures(wh: Warehouse) -> None:
    doc = churn_report(wh, SNAPSHOT, OCT, min_base=1)
    zh, en = doc["findings"]["zh-CN"], doc["findings"]["en"]
    assert len(zh) == len(en) >= 5
    # the month's rate: 1 of 4 at the start of October, 1 of 4 in September
    assert doc["churn_rate"] == pytest.approx(0.25) and doc["previous_churn_rate"] == 0.25
    assert any("资费" in line and "50.0%" in line for line in zh)
    assert any("largest controllable reason is price" in line for line in en)
    # brand Y: 0 of 1 at the start of September, 1 of 2 in October: +50 points, the most
    rising = max(
        (s for s in doc["segments"] if s["change_points"] is not None),
        key=lambda s: s["change_points"],
    )
    assert (rising["dimension"], rising["member"]) == ("brand", "Y")
    assert any("brand Y" in line and "+50.0 points" in line for line in en)
    assert any("品牌「Y」" in line for line in zh)
    # with the default minimum base (20 subscribers) no segment is named on six subscribers
    plain = churn_report(wh, SNAPSHOT, OCT)
    assert not any("rose most" in line for line in plain["findings"]["en"])


def test_dashboard_figures_concatenate_without_future_warning(tmp_path: Path) -> None:
    """Figures without numerators (a feature's PSI) next to rates: one float dtype, so pandas
    does not warn about concatenating all-NA columns (it did before)."""
    with build_report_warehouse(tmp_path / "wh.duckdb") as warehouse:
        drift = pd.DataFrame(
            {"snapshot_date": [SNAPSHOT, SNAPSHOT], "feature": ["score", "arpu_1m"],
             "psi": [0.05, 0.3]}
        )  # fmt: skip
        warehouse.replace_table("drift", ibis.memtable(drift))
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)
            frame = kpis.all_metrics(warehouse, SNAPSHOT)
    psi = frame[frame["metric"] == "psi"]
    assert sorted(psi["value"]) == [0.05, 0.3] and psi["numerator"].isna().all()
    assert frame["numerator"].dtype == float


def test_a_window_partly_covered_by_data_says_which_months_are_missing(tmp_path: Path) -> None:
    # the fixture delivers bills for 2026-06 to 2026-09 only (with MORE_BILLS)
    with build_report_warehouse(tmp_path / "wh.duckdb", bills=True) as warehouse:
        doc = churn_report(warehouse, SNAPSHOT, OCT)
        window = [f"{d:%Y-%m}" for d in kpis.report_months(SNAPSHOT, kpis.MONTHS, OCT)]
        assert doc["window"] == window and window[0] == "2025-11"
        delivered = {"2026-06", "2026-07", "2026-08", "2026-09"}
        assert doc["missing_months"] == [m for m in window if m not in delivered]
        zh, en = doc["findings"]["zh-CN"], doc["findings"]["en"]
        assert any("只有 4 个月有数据" in s and "2025-11、2025-12" in s for s in zh)
        assert any("only 4 of the 12 months" in s and "2026-05, 2026-10" in s for s in en)
        # every month of the window delivered: nothing to say
        _load(
            warehouse,
            "monthly_usage",
            [{"subscriber_id": "E", "bill_month": date.fromisoformat(f"{m}-01"),
              "bill_amount": 10.0} for m in window if m not in delivered],
        )  # fmt: skip
        full = churn_report(warehouse, SNAPSHOT, OCT)
    assert full["missing_months"] == []
    assert not any("Note:" in s for s in full["findings"]["en"])
    assert len(full["findings"]["zh-CN"]) == len(full["findings"]["en"])


@pytest.mark.parametrize("written", ["未知", " 未知 ", "Unknown", "-", ""])
def test_an_unknown_destination_is_unknown_not_a_competitor(tmp_path: Path, written: str) -> None:
    with build_report_warehouse(tmp_path / "wh.duckdb") as warehouse:
        # D left 2026-10-05 without a known destination, as operators write it
        warehouse.execute(
            "UPDATE churn_records SET destination_competitor = ? WHERE subscriber_id = 'D'",
            [written],
        )
        doc = churn_report(warehouse, SNAPSHOT, OCT)
    destinations = {d["member"]: d["numerator"] for d in doc["destinations"]}
    assert destinations == {"中国电信": 1.0, kpis.UNKNOWN: 1.0}
    assert any("went to 中国电信:" in s for s in doc["findings"]["en"])
    assert not any(f"went to {written.strip()}:" in s for s in doc["findings"]["en"])
