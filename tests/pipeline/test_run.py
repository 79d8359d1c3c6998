"""The daily pipeline run: results per snapshot, replaced (not duplicated) on re-run."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

import factories as f
from weiwan.analytics.churn.registry import ModelRegistry
from weiwan.analytics.ingest import ingest
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.errors import WeiwanError
from weiwan.pipeline.run import run_pipeline


def test_rerunning_a_snapshot_replaces_its_results(tmp_path: Path, warehouse: Warehouse) -> None:
    ingest(f.delivery(tmp_path, subscribers=12), snapshot=date(2026, 10, 31), warehouse=warehouse)
    registry = ModelRegistry(tmp_path / "models")
    first = run_pipeline(warehouse, date(2026, 10, 31), registry=registry)
    other = run_pipeline(warehouse, date(2026, 9, 30), registry=registry)
    again = run_pipeline(warehouse, date(2026, 10, 31), registry=registry)
    steps = ["features", "tags", "segments", "clv", "scores", "drift", "profile", "target_groups"]
    decided = ["alerts", "anomalies", "decisions", "limit_prices", "uplift_levels", "strategy_arms"]
    assert list(first.rows) == [*steps, *decided]
    assert first.rows["decisions"] == 0  # nothing scored, nothing to decide
    # two months without churn: no model can be trained, so nothing is scored (and none promoted)
    assert first.rows["scores"] == 0 and registry.promoted() is None
    assert first.rows == again.rows
    for name in ("features", "tags", "segments", "clv", "profile"):
        assert first.rows[name] == other.rows[name] == 12
        counts = warehouse.execute(
            f"SELECT snapshot_date, count(*), count(DISTINCT subscriber_id) FROM {name} "
            "GROUP BY 1 ORDER BY 1"
        )
        assert counts == [(date(2026, 9, 30), 12, 12), (date(2026, 10, 31), 12, 12)], name
    # no churn history in this delivery: tenure cannot be fitted, so future value stays unknown
    assert warehouse.execute("SELECT count(future_value) FROM clv") == [(0,)]


def test_pipeline_needs_ingested_data(warehouse: Warehouse) -> None:
    with pytest.raises(WeiwanError, match="weiwan ingest"):
        run_pipeline(warehouse, date(2026, 10, 31))
