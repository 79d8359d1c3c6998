"""Scores and drift in batches: the same rows, bands, reasons and PSI whatever the batch size."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pytest

from model_fixtures import promote_quick_model
from weiwan.analytics.churn.drift import drift, drift_in_batches
from weiwan.analytics.churn.registry import ModelMeta, ModelRegistry
from weiwan.analytics.churn.scoring import score_in_batches
from weiwan.analytics.churn.training import band_sizes, risk_bands, score_frame
from weiwan.analytics.features import DAY_FEATURES, compute_features
from weiwan.analytics.ingest import ingest
from weiwan.analytics.warehouse import Warehouse
from weiwan.sim import simulate

SNAPSHOT = date(2026, 10, 31)


@pytest.fixture(scope="module")
def scored_operator(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Warehouse, Any, ModelMeta]]:
    root = tmp_path_factory.mktemp("scoring")
    simulate(subscribers=3000, months=8, seed=5, out=root / "sim", end_month="2026-10")
    wh = Warehouse(root / "wh.duckdb", threads=2)
    ingest(root / "sim", snapshot=SNAPSHOT, warehouse=wh)
    registry = ModelRegistry(root / "models")
    promote_quick_model(wh, registry)
    wh.replace_snapshot("features", compute_features(wh, SNAPSHOT), SNAPSHOT)
    model, meta = registry.load()
    yield wh, model, meta
    wh.close()


def _features(wh: Warehouse) -> ir.Table:
    """800 subscribers of the snapshot (batches of 7 are slow on many more)."""
    features = wh.table("features")
    return features.filter(features.snapshot_date == SNAPSHOT).order_by("subscriber_id").limit(800)


def _scores(wh: Warehouse, model: Any, meta: ModelMeta, batch_rows: int, **kw: Any) -> pd.DataFrame:
    features = _features(wh)
    table = score_in_batches(wh, features, model, meta, batch_rows=batch_rows, **kw)
    frame: pd.DataFrame = table.to_pandas().sort_values("subscriber_id").reset_index(drop=True)
    wh.replace_table("_scoring_test", table.limit(0))  # drops the batch results
    return frame


@pytest.mark.parametrize("reasons_for", ["at_risk", "all"])
def test_batches_of_seven_score_exactly_as_one_batch(
    scored_operator: tuple[Warehouse, Any, ModelMeta], reasons_for: str
) -> None:
    wh, model, meta = scored_operator
    small = _scores(wh, model, meta, 7, reasons_for=reasons_for)
    whole = _scores(wh, model, meta, 1_000_000, reasons_for=reasons_for)
    assert len(small) == 800
    pd.testing.assert_frame_equal(small, whole, check_exact=True)
    high, at_risk = band_sizes(len(small))
    assert (small.risk_band == "high").sum() == high
    assert (small.risk_band != "low").sum() == at_risk
    explained = small.reason_1.notna()
    if reasons_for == "at_risk":
        assert not explained[small.risk_band == "low"].any()
    assert explained[small.risk_band == "high"].mean() > 0.9


def test_scores_without_reasons_band_as_those_with(
    scored_operator: tuple[Warehouse, Any, ModelMeta],
) -> None:
    wh, model, meta = scored_operator
    bare = _scores(wh, model, meta, 13, reasons_for="none")
    reasoned = _scores(wh, model, meta, 13, reasons_for="at_risk")
    kept = ["subscriber_id", "churn_probability", "risk_band", "model_version"]
    pd.testing.assert_frame_equal(bare[kept], reasoned[kept], check_exact=True)
    assert bare.reason_1.isna().all() and reasoned.reason_1.notna().any()


def test_batched_scores_equal_score_frame_on_the_whole_snapshot(
    scored_operator: tuple[Warehouse, Any, ModelMeta],
) -> None:
    wh, model, meta = scored_operator
    features = _features(wh).to_pandas().sort_values("subscriber_id").reset_index(drop=True)
    expected = score_frame(model, meta, features)
    batched = _scores(wh, model, meta, 11)
    expected["snapshot_date"] = batched["snapshot_date"]  # the same dates, as the store gives them
    pd.testing.assert_frame_equal(batched, expected[batched.columns], check_exact=True)


@pytest.mark.parametrize("n", [0, 1, 2, 19, 20, 21, 99, 100, 101, 1234])
def test_band_sizes_are_those_of_risk_bands(n: int) -> None:
    p = np.random.default_rng(n).random(n).round(1)  # many ties
    bands = risk_bands(p)
    assert band_sizes(n) == ((bands == "high").sum(), (bands != "low").sum())


def test_drift_counted_in_batches_equals_the_whole_frame(
    scored_operator: tuple[Warehouse, Any, ModelMeta],
) -> None:
    wh, model, meta = scored_operator
    wh.replace_snapshot("scores", score_in_batches(wh, _features(wh), model, meta), SNAPSHOT)
    scores = wh.table("scores").select("subscriber_id", "churn_probability")
    rows = _features(wh).join(scores, "subscriber_id")
    ref = meta.extra["drift_reference"]
    frame = rows.to_pandas()
    whole = drift(ref, frame[meta.features], frame["churn_probability"].to_numpy())
    batched = drift_in_batches(wh, ref, rows, meta.features, batch_rows=7)
    wh.replace_table("_scoring_test", rows.limit(0))  # drops the batch results
    # every feature but those of the day (the same for everyone on it), and the score
    drifting = [name for name in meta.features if name not in DAY_FEATURES]
    assert "days_since_month_end" in meta.features and drifting != meta.features
    assert len(whole) == len(drifting) + 1 and whole.psi.gt(0.01).any()
    assert batched.feature.tolist() == whole.feature.tolist()
    np.testing.assert_allclose(batched.psi, whole.psi, rtol=0, atol=1e-12)
    assert batched.warning.tolist() == whole.warning.tolist()
