"""Dashboard figures from the warehouse equal the hand-computed values (tests/kpi_fixtures)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from kpi_fixtures import SNAPSHOT, build_warehouse
from weiwan.analytics import kpis
from weiwan.analytics.warehouse import Warehouse

SEPT, OCT = date(2026, 9, 1), date(2026, 10, 1)


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    warehouse = build_warehouse(tmp_path_factory.mktemp("kpis") / "wh.duckdb")
    yield warehouse
    warehouse.close()


def _pick(frame: pd.DataFrame, **where: object) -> dict[str, tuple[float, float]]:
    """branch|member -> (numerator, denominator) of the rows matching ``where``."""
    rows = frame
    for column, value in where.items():
        rows = rows[rows[column] == value]
    return {
        f"{branch}|{member}": (float(numerator), float(denominator))
        for branch, member, numerator, denominator in zip(
            rows["branch"], rows["member"], rows["numerator"], rows["denominator"], strict=True
        )
    }


def test_churn_rate_by_month_branch_and_dimension(wh: Warehouse) -> None:
    rates = kpis.churn_rates(wh, SNAPSHOT)
    assert sorted(rates["period"].unique())[-2:] == [SEPT, OCT]
    # September: A and B in B1 (B leaves), D and E in B2; C joined on 15 September
    assert _pick(rates, period=SEPT, dimension="total") == {
        "B1|all": (1, 2),
        "B2|all": (0, 2),
    }
    # October: A and C in B1; D (leaves) and E in B2
    assert _pick(rates, period=OCT, dimension="total") == {"B1|all": (0, 2), "B2|all": (1, 2)}
    assert _pick(rates, period=SEPT, dimension="brand") == {
        "B1|X": (1, 2),
        "B2|X": (0, 1),
        "B2|Y": (0, 1),
    }
    assert _pick(rates, period=SEPT, dimension="channel")["B1|online"] == (1, 1)
    assert _pick(rates, period=SEPT, dimension="payment_type")["B1|prepaid"] == (1, 1)
    sept_b1 = rates[(rates.period == SEPT) & (rates.branch == "B1") & (rates.dimension == "total")]
    assert sept_b1["value"].iloc[0] == pytest.approx(0.5)


def test_churn_analysis(wh: Warehouse) -> None:
    frame = kpis.churn_analysis(wh, SNAPSHOT)
    assert set(frame["period"]) == {OCT}
    assert _pick(frame, metric="churn_reason") == {
        "B1|price": (1, 1),
        "B1|relocation": (0, 1),
        "B2|price": (0, 1),
        "B2|relocation": (1, 1),
    }
    kinds = _pick(frame, metric="churn_reason_kind")
    assert kinds["B1|internal"] == (1, 1) and kinds["B2|external"] == (1, 1)
    assert _pick(frame, metric="churn_destination")["B1|中国电信"] == (1, 1)
    assert _pick(frame, metric="churn_destination")["B2|unknown"] == (1, 1)
    # B left after 20 months, D after 33; the base: A 22 months, C 1, E 33
    leavers = _pick(frame, metric="churn_tenure", dimension="leavers")
    assert leavers["B1|12-24"] == (1, 1) and leavers["B2|24-36"] == (1, 1)
    base = _pick(frame, metric="churn_tenure", dimension="base")
    assert base["B1|12-24"] == (1, 2) and base["B1|0-6"] == (1, 2) and base["B2|24-36"] == (1, 1)
    touch = _pick(frame, metric="churn_touchpoint")
    assert touch["B2|complaint_network"] == (1, 1) and touch["B1|none"] == (1, 1)
    assert touch["B2|none"] == (0, 1)
    cost = _pick(frame, metric="churn_cost")
    assert cost["B1|direct"] == (100, 1)  # B's last bill before leaving
    assert cost["B1|lost_future"] == (100 * kpis.FUTURE_MONTHS, 1)
    assert cost["B2|direct"] == (0, 1)  # D has no bill


def test_satisfaction_and_complaints(wh: Warehouse) -> None:
    frame = kpis.satisfaction(wh, SNAPSHOT)
    assert _pick(frame, metric="satisfaction_rate", dimension="total", period=OCT) == {
        "B1|all": (1, 2),
        "B2|all": (1, 1),
    }
    assert _pick(frame, metric="dissatisfaction_rate", dimension="total", period=OCT) == {
        "B1|all": (1, 2),
        "B2|all": (0, 1),
    }
    assert _pick(frame, metric="satisfaction_score", dimension="total", period=OCT)["B1|all"] == (
        13,
        2,
    )
    assert _pick(frame, metric="satisfaction_rate", dimension="touchpoint", period=OCT)[
        "B1|hotline"
    ] == (0, 1)
    # one complaint of D in September, B2 had two subscribers at the start of September
    assert _pick(frame, metric="complaint_rate", period=SEPT)["B2|all"] == (1, 2)
    assert _pick(frame, metric="complaint_resolution_rate", period=SEPT)["B2|all"] == (1, 1)
    assert _pick(frame, metric="complaint_hours", period=SEPT)["B2|all"] == (5, 1)


def test_dissatisfied_customers(wh: Warehouse) -> None:
    low = kpis.dissatisfied_customers(wh, SNAPSHOT)
    assert low[["subscriber_id", "branch", "score"]].to_dict("records") == [
        {"subscriber_id": "C", "branch": "B1", "score": 4}
    ]


def test_model_monitor_without_scores_is_empty(wh: Warehouse) -> None:
    assert kpis.model_monitor(wh, SNAPSHOT).empty


def test_model_monitor_realised_auc(tmp_path: Path) -> None:
    with build_warehouse(tmp_path / "wh.duckdb") as warehouse:
        day = date(2026, 8, 31)
        scores = pd.DataFrame(
            {
                "subscriber_id": ["A", "B", "D", "E"],
                "snapshot_date": day,
                "churn_probability": [0.1, 0.9, 0.3, 0.2],
                "model_version": "v0001",
            }
        )
        warehouse.con.con.register("_s", scores)
        warehouse.con.con.execute("CREATE TABLE scores AS SELECT * FROM _s")
        frame = kpis.model_monitor(warehouse, SNAPSHOT)
        # B (0.9) left in September, the others did not: a perfect ranking
        row = frame[frame.metric == "model_auc"].iloc[0]
        assert row["period"] == day and row["member"] == "v0001"
        assert row["value"] == pytest.approx(1.0)
        assert (row["numerator"], row["denominator"]) == (1, 4)
