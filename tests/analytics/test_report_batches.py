"""The report history built in batches equals each period built alone, on a simulated
operator after a pipeline run (so decisions, contacts, CLV and segments are there): the churn
dashboard's analysis of every month, the churn analysis figures, and the weekly / monthly
cubes. The publish builds all due periods in one batch; the dashboard and ``weiwan report``
build one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from model_fixtures import promote_quick_model
from weiwan.analytics import kpis
from weiwan.analytics.churn.registry import ModelRegistry
from weiwan.analytics.churn_analysis import many_churn_figures
from weiwan.analytics.ingest import ingest
from weiwan.analytics.period_reports import closed_periods, period_cubes
from weiwan.analytics.warehouse import Warehouse
from weiwan.pipeline.run import run_pipeline
from weiwan.sim import simulate

DAY = date(2026, 10, 31)


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    root: Path = tmp_path_factory.mktemp("batches")
    simulate(subscribers=2000, months=14, seed=5, out=root / "sim", end_month="2026-10")
    with Warehouse(root / "wh.duckdb", threads=2) as warehouse:
        ingest(root / "sim", snapshot=DAY, warehouse=warehouse)
        registry = ModelRegistry(root / "models")
        promote_quick_model(warehouse, registry)
        run_pipeline(warehouse, DAY, registry=registry)
        yield warehouse


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    columns = [c for c in frame.columns if c not in ("value", "numerator", "denominator")]
    return frame.sort_values(columns).reset_index(drop=True)


def test_churn_analyses_of_all_months_equal_each_month_alone(wh: Warehouse) -> None:
    months = kpis.report_months(DAY, 13)
    together = kpis.churn_analyses(wh, DAY, months)
    assert list(together) == months
    leavers = 0.0
    for month in months:
        alone = kpis.churn_analysis(wh, DAY, last=month)
        pd.testing.assert_frame_equal(_sorted(together[month]), _sorted(alone))
        reasons = alone[alone["metric"] == "churn_reason"]
        leavers += reasons.groupby("branch")["denominator"].first().sum()
    assert leavers > 0  # the months have leavers, so every part was compared


def test_churn_figures_of_all_months_equal_each_month_alone(wh: Warehouse) -> None:
    months = kpis.report_months(DAY, 13)
    together = many_churn_figures(wh, DAY, months)
    for month in months:
        alone = many_churn_figures(wh, DAY, [month])[month]
        batch = together[month]
        pd.testing.assert_frame_equal(_sorted(batch.analysis), _sorted(alone.analysis))
        pd.testing.assert_frame_equal(_sorted(batch.rates), _sorted(alone.rates))
        pd.testing.assert_series_equal(batch.lost_future, alone.lost_future)
        assert (batch.window, batch.missing_months) == (alone.window, alone.missing_months)
    assert sum(f.lost_future.sum() for f in together.values()) > 0


def test_period_cubes_of_all_periods_equal_each_period_alone(wh: Warehouse) -> None:
    periods = closed_periods(DAY)
    wanted = [q for p in periods for q in (p, p.last_year())]
    together = period_cubes(wh, DAY, wanted)
    keys = ["branch", "brand", "value_tier", "channel"]
    for period in periods:
        alone = period_cubes(wh, DAY, [period])[period.key]
        batch = together[period.key]
        pd.testing.assert_frame_equal(
            batch.sort_values(keys).reset_index(drop=True),
            alone.sort_values(keys).reset_index(drop=True),
        )
    assert sum(c["churned"].sum() for c in together.values()) > 0
    # passes of a few periods each (bounded subscriber × period rows) give the same cubes
    subscribers = int(wh.table("subscribers").subscriber_id.nunique().execute())
    grouped = period_cubes(wh, DAY, wanted, pass_rows=3 * subscribers)
    assert list(grouped) == list(together)
    for key, cube in together.items():
        pd.testing.assert_frame_equal(
            grouped[key].sort_values(keys).reset_index(drop=True),
            cube.sort_values(keys).reset_index(drop=True),
        )
