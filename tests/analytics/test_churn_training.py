"""The churn model trained on a simulated operator's warehouse: honest hold-out, scores, reasons."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score

from weiwan.analytics.churn.registry import ModelRegistry
from weiwan.analytics.churn.training import (
    NotEnoughHistoryError,
    TrainingConfig,
    TrainingResult,
    score_frame,
    snapshot_frame,
    train_on_warehouse,
)
from weiwan.analytics.features import compute_features
from weiwan.analytics.ingest import ingest
from weiwan.analytics.warehouse import Warehouse
from weiwan.sim import simulate

END = "2026-10"


@pytest.fixture(scope="module")
def operator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Warehouse]]:
    root = tmp_path_factory.mktemp("churn")
    simulate(subscribers=8000, months=9, seed=13, out=root / "sim", end_month=END)
    wh = Warehouse(root / "wh.duckdb", threads=2)
    ingest(root / "sim", snapshot=date(2026, 10, 31), warehouse=wh)
    yield root, wh
    wh.close()


@pytest.fixture(scope="module")
def trained(operator: tuple[Path, Warehouse]) -> TrainingResult:
    return train_on_warehouse(operator[1], TrainingConfig(snapshots=4))


def test_time_based_holdout_and_side_by_side_evaluation(trained: TrainingResult) -> None:
    meta = trained.meta
    assert meta.training_snapshots == ["2026-06-30", "2026-07-31", "2026-08-31"]
    assert meta.holdout_snapshot == "2026-09-30"
    assert set(trained.evaluation) == {"default", "naive_bayes", "logistic_regression"}
    default = trained.evaluation["default"]
    for key in ("roc_auc", "pr_auc", "top_decile_lift", "brier", "emp", "emp_share_contacted"):
        assert np.isfinite(default[key]), key
    assert 0.7 < default["roc_auc"] < 1.0
    assert default["top_decile_lift"] > 2
    for baseline in ("naive_bayes", "logistic_regression"):  # evaluated on the same hold-out
        assert 0.5 < trained.evaluation[baseline]["roc_auc"] < 1.0
    assert len(default["lift"]) == 10 and len(default["calibration"]) >= 5
    assert meta.training_rows > 20_000 and "subscriber_id" not in meta.features


def test_model_approaches_the_true_probability(
    operator: tuple[Path, Warehouse], trained: TrainingResult
) -> None:
    """On the hold-out snapshot the model's AUC is close to the best achievable one."""
    root, wh = operator
    holdout = snapshot_frame(wh, date(2026, 9, 30), TrainingConfig())
    scored = score_frame(trained.holdout_model, trained.meta, holdout)  # never saw 2026-09-30
    truth = pq.read_table(root / "sim" / "truth" / "monthly_truth.parquet").to_pandas()
    truth = truth[truth.month == "2026-09"].set_index("subscriber_id")["p_churn_next"]
    y = holdout["churned"].to_numpy(bool)
    best = roc_auc_score(y, truth.reindex(holdout["subscriber_id"]).fillna(0).to_numpy())
    ours = roc_auc_score(y, scored["churn_probability"])
    print(f"hold-out AUC {ours:.3f}, true probability {best:.3f}")
    assert ours >= 0.9 * best, (ours, best)


def test_scores_have_bands_and_reasons(
    operator: tuple[Path, Warehouse], trained: TrainingResult
) -> None:
    features = compute_features(operator[1], date(2026, 10, 31)).to_pandas()
    scored = score_frame(trained.model, trained.meta, features)
    assert len(scored) == len(features)
    assert scored["churn_probability"].between(0, 1).all()
    shares = scored["risk_band"].value_counts(normalize=True)
    assert shares["high"] == pytest.approx(0.05, abs=0.01)
    assert shares["medium"] == pytest.approx(0.15, abs=0.01)
    top = scored.sort_values("churn_probability", ascending=False).head(50)
    assert top["reason_1"].notna().all() and top["reason_1_en"].notna().all()
    assert (top["risk_band"] == "high").all()


def test_registry_round_trip_scores_the_same(
    tmp_path: Path, operator: tuple[Path, Warehouse], trained: TrainingResult
) -> None:
    registry = ModelRegistry(tmp_path / "models")
    registry.promote(registry.register(trained.model, trained.meta))
    model, meta = registry.load()
    features = compute_features(operator[1], date(2026, 10, 31)).to_pandas().head(500)
    a = score_frame(trained.model, trained.meta, features)["churn_probability"]
    b = score_frame(model, meta, features)["churn_probability"]
    assert np.allclose(a, b)


def test_too_little_history_is_a_clear_error(tmp_path: Path, warehouse: Warehouse) -> None:
    import factories as f

    ingest(f.delivery(tmp_path, subscribers=30), snapshot=date(2026, 10, 31), warehouse=warehouse)
    with pytest.raises(NotEnoughHistoryError, match="churners"):
        train_on_warehouse(warehouse, TrainingConfig())
