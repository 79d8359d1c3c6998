"""The churn model trained on a simulated operator's warehouse: honest hold-out, scores, reasons."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score

from weiwan.analytics.churn.evaluation import train_and_register
from weiwan.analytics.churn.labels import horizon_end
from weiwan.analytics.churn.models import prepare_features
from weiwan.analytics.churn.registry import ModelRegistry
from weiwan.analytics.churn.training import (
    NotEnoughHistoryError,
    TrainingConfig,
    TrainingResult,
    score_frame,
    snapshot_frame,
    stratum_sizes,
    train_on_warehouse,
    training_snapshots,
)
from weiwan.analytics.contract import CHURN_REASONS
from weiwan.analytics.features import compute_features
from weiwan.analytics.ingest import ingest
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.months import month_end
from weiwan.core.settings import get_settings
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
def registered(
    operator: tuple[Path, Warehouse],
) -> tuple[ModelRegistry, str, TrainingResult, dict[str, Path]]:
    registry = ModelRegistry(operator[0] / "models")
    version, result, files = train_and_register(
        operator[1], registry, TrainingConfig(snapshots=4, mid_month_days=(15,)), promote=True
    )
    return registry, version, result, files


@pytest.fixture(scope="module")
def trained(
    registered: tuple[ModelRegistry, str, TrainingResult, dict[str, Path]],
) -> TrainingResult:
    return registered[2]


def test_registered_with_its_evaluation_report(
    registered: tuple[ModelRegistry, str, TrainingResult, dict[str, Path]],
) -> None:
    registry, version, result, files = registered
    assert registry.promoted() == version
    assert set(files) == {"json_path", "html_path", "html_en_path"}
    for path in files.values():
        assert path.parent == registry.folder(version) and path.stat().st_size > 1000
    document = json.loads(files["json_path"].read_text("utf-8"))
    assert document["model"]["version"] == version
    assert list(document["models"]) == ["default", "naive_bayes", "logistic_regression"]
    default = document["models"]["default"]
    assert default["roc_auc"] == pytest.approx(result.evaluation["default"]["roc_auc"])
    assert default["roc"][0] == {"fpr": 0.0, "tpr": 0.0} and len(default["profit"]) > 10
    assert document["holdout"]["churners"] == round(
        document["holdout"]["rows"] * document["holdout"]["churn_rate"]
    )
    assert document["emp_parameters"]["clv"] == "200"  # no CLV step ran on this warehouse


def test_tenure_model_checked_on_what_happened_later(
    registered: tuple[ModelRegistry, str, TrainingResult, dict[str, Path]],
) -> None:
    """History from 2026-02 to 2026-10: the tenure model is fitted as of 2026-04-30 (three
    months of usage before it, six of follow-up) and orders subscribers better than chance."""
    survival = registered[2].meta.extra["survival"]
    assert survival["snapshot"] == "2026-04-30" and survival["follow_up_months"] == 6
    assert survival["concordance_index"] > 0.55
    assert 0 < survival["mean_p_leave_3m"] < survival["mean_p_leave_6m"] < 1
    for months in (3, 6):  # the predicted share leaving is near the observed one
        predicted = survival[f"mean_p_leave_{months}m"]
        assert predicted == pytest.approx(survival[f"observed_leave_{months}m"], rel=0.5)


def test_time_based_holdout_and_side_by_side_evaluation(trained: TrainingResult) -> None:
    meta = trained.meta
    # month ends and mid-month days (the daily run scores both); the 15th before the hold-out
    # learns churn up to 15 Oct, inside the hold-out's window: the refit's only
    assert meta.training_snapshots == [
        "2026-06-15", "2026-06-30", "2026-07-15", "2026-07-31", "2026-08-15", "2026-08-31",
    ]  # fmt: skip
    assert meta.extra["refit_only_snapshots"] == ["2026-09-15"]
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
    low = scored["risk_band"] == "low"  # reasons only where retention works, by default
    assert scored.loc[low, "reason_1"].isna().all()
    assert scored.loc[~low, "reason_1"].notna().mean() > 0.95
    everyone = score_frame(trained.model, trained.meta, features.head(300), reasons_for="all")
    assert everyone["reason_1"].notna().mean() > 0.9
    # no reasons at all: scores as before, every reason blank (the booster is never asked)
    silent = score_frame(trained.model, trained.meta, features.head(300), reasons_for="none")
    assert np.allclose(silent["churn_probability"], everyone["churn_probability"])
    assert silent["reason_1"].isna().all() and "reason_3_feature" in silent.columns


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
    with pytest.raises(NotEnoughHistoryError, match="two month-end snapshots with usage"):
        train_on_warehouse(warehouse, TrainingConfig())


def test_training_labels_never_reach_into_the_holdout(trained: TrainingResult) -> None:
    """Every training row's label window closes by the hold-out snapshot."""
    holdout = date.fromisoformat(str(trained.meta.holdout_snapshot))
    for text in trained.meta.training_snapshots:
        assert horizon_end(date.fromisoformat(text), trained.meta.horizon_months) <= holdout


def test_mid_month_days_as_many_as_the_training_rows_hold(
    operator: tuple[Path, Warehouse],
) -> None:
    """The first mid-month day always joins the month ends; each further one only while every
    snapshot's labelled subscribers (~7 000 here) still fit half the training rows whole."""
    wh = operator[1]

    def days(max_rows: int) -> list[int]:
        config = TrainingConfig(snapshots=4, mid_month_days=(15, 8, 22), max_training_rows=max_rows)
        chosen = training_snapshots(wh, config)
        assert chosen == sorted(chosen) and date(2026, 9, 30) in chosen
        return sorted({d.day for d in chosen if d != month_end(d)})

    # four month ends and each day's four snapshots: 16 in all, 15 besides the hold-out
    assert days(1_000_000) == [8, 15, 22]
    labelled = sum(stratum_sizes(wh, date(2026, 9, 30), TrainingConfig()).values())
    assert days(labelled * 15 * 2) == [8, 15, 22]
    assert days(labelled * 15 * 2 - 1) == [8, 15]  # the 22nd no longer fits: the 8th still does
    assert days(labelled * 11 * 2 - 1) == [15]
    assert days(1000) == [15]  # sampled down anyway: the first day stays
    config = TrainingConfig(snapshots=4, mid_month_days=())
    assert all(d == month_end(d) for d in training_snapshots(wh, config))


def test_mid_month_days_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEIWAN_TRAIN_MID_MONTH_DAYS", "[8]")
    get_settings.cache_clear()
    try:
        assert TrainingConfig().mid_month_days == (8,)
    finally:
        monkeypatch.delenv("WEIWAN_TRAIN_MID_MONTH_DAYS")
        get_settings.cache_clear()
    assert TrainingConfig().mid_month_days == (15, 8, 22)
    with pytest.raises(ValueError, match="1-28"):
        TrainingConfig(mid_month_days=(15, 29))
    with pytest.raises(ValueError, match="repeats"):
        TrainingConfig(mid_month_days=(15, 15))


def test_a_backtest_uses_only_labels_known_on_its_day(operator: tuple[Path, Warehouse]) -> None:
    """Trained as on the 15th: every label window, the hold-out's too, closed by that day."""
    day = date(2026, 9, 15)
    config = TrainingConfig(snapshots=3, known_until=day, refit=False, mid_month_days=(15,))
    result = train_on_warehouse(operator[1], config)
    # 31 Aug's window ends 30 Sep: the latest closed is the 15th of August's
    assert result.meta.holdout_snapshot == "2026-08-15"
    # 31 Jul is known (its window closed 31 Aug) but inside the hold-out's window: refit only
    assert result.meta.extra["refit_only_snapshots"] == ["2026-07-31"]
    assert "2026-07-15" in result.meta.training_snapshots
    for text in [*result.meta.training_snapshots, result.meta.holdout_snapshot]:
        assert horizon_end(date.fromisoformat(text), 1) <= day


def test_training_rows_use_nothing_after_their_label_window(tmp_path: Path) -> None:
    """A training frame (features and labels) is the same whether or not the warehouse holds
    data from after the snapshot's label window; labels are the churn records in the window."""
    import factories as f

    sim = tmp_path / "sim"
    simulate(subscribers=2000, months=8, seed=5, out=sim, end_month=END)
    day = date(2026, 7, 31)
    window_end = horizon_end(day, 1)
    f.truncate_delivery(sim / "extracts", tmp_path / "known", window_end)
    frames = []
    for name, source in (("full", sim), ("known", tmp_path / "known")):
        with Warehouse(tmp_path / f"{name}.duckdb", threads=2) as wh:
            ingest(source, snapshot=date(2026, 10, 31), warehouse=wh)
            frame = snapshot_frame(wh, day, TrainingConfig())
        frames.append(frame.sort_values("subscriber_id").reset_index(drop=True))
    full, known = frames
    pd.testing.assert_frame_equal(full, known)
    churn = pq.read_table(sim / "extracts" / "churn_records.parquet").to_pandas()
    dates = pd.to_datetime(churn["churn_date"]).dt.date
    inside = set(churn.loc[(dates > day) & (dates <= window_end), "subscriber_id"])
    before = set(churn.loc[dates <= day, "subscriber_id"])
    assert set(full.loc[full["churned"], "subscriber_id"]) == inside & set(full["subscriber_id"])
    assert full["churned"].sum() > 10
    assert not before & set(full["subscriber_id"])  # who left by the snapshot is not a row


def test_the_recorded_leaving_reasons_are_learned_and_judged_on_the_holdout(
    operator: tuple[Path, Warehouse],
    registered: tuple[ModelRegistry, str, TrainingResult, dict[str, Path]],
) -> None:
    """The churners' recorded reasons (churn_records.reason_code) train a classifier kept with
    the model; on the hold-out's churners it names their recorded reason better than naming
    the commonest for all, and over the hold-out month's subscribers it gives their true
    (simulated) reason more probability than the reasons' base rates do."""
    root, wh = operator
    registry, _, result, _ = registered
    leaving = result.meta.extra["leaving_reasons"]
    print(json.dumps(leaving))
    assert leaving["trained"] and set(leaving["classes"]) <= set(CHURN_REASONS)
    judged = leaving["holdout"]
    assert judged["rows"] > 50
    assert judged["accuracy"] > judged["most_common_share"]
    assert judged["log_loss"] < judged["log_loss_shares"]
    model, meta = registry.load()
    reasons = model.leaving_reasons_
    frame = snapshot_frame(wh, date(2026, 9, 30), TrainingConfig())
    x, _ = prepare_features(frame[meta.features], categories=model.categories_)
    mix = reasons.mix(x)
    assert np.allclose(mix.sum(axis=1), 1.0)
    truth = pq.read_table(root / "sim" / "truth" / "monthly_truth.parquet").to_pandas()
    truth = truth[truth.month == "2026-09"].set_index("subscriber_id")["reason"]
    true = truth.reindex(frame["subscriber_id"]).to_numpy()
    known = np.isin(true, list(reasons.classes))
    given = mix.to_numpy()[known, [list(reasons.classes).index(r) for r in true[known]]]
    base = pd.Series(true[known]).map(pd.Series(true[known]).value_counts(normalize=True))
    print(f"P(true reason): classifier {given.mean():.3f}, base rates {base.mean():.3f}")
    assert given.mean() > base.mean() + 0.05


def test_scores_carry_the_likeliest_leaving_reason_of_the_explained(
    operator: tuple[Path, Warehouse],
    registered: tuple[ModelRegistry, str, TrainingResult, dict[str, Path]],
) -> None:
    """Each subscriber given reasons also gets the reason they would most likely leave over
    and its probability (the leaving-reason model's); the others, and a model trained without
    one, get none."""
    _, wh = operator
    registry, _, _, _ = registered
    model, meta = registry.load()
    frame = snapshot_frame(wh, date(2026, 9, 30), TrainingConfig()).head(2000)
    scores = score_frame(model, meta, frame)
    explained = scores["reason_1"].notna()
    assert explained.any() and (~explained).any()
    given = scores[explained]
    assert given["leaving_reason"].isin(model.leaving_reasons_.classes).all()
    assert given["leaving_reason_share"].between(1 / len(model.leaving_reasons_.classes), 1).all()
    assert given["leaving_reason"].nunique() >= 3
    for _, row in given.head(50).iterrows():  # every reason's probability, the likeliest first
        mix = json.loads(row["leaving_mix"])
        assert set(mix) == set(model.leaving_reasons_.classes)
        assert sum(mix.values()) == pytest.approx(1.0, abs=1e-3)
        assert max(mix, key=mix.get) == row["leaving_reason"]
        assert mix[row["leaving_reason"]] == row["leaving_reason_share"]
    assert scores.loc[~explained, "leaving_reason"].isna().all()
    without = copy.copy(model)
    without.leaving_reasons_ = None
    bare = score_frame(without, meta, frame)
    assert bare[_LEAVING].isna().all().all()
    pd.testing.assert_frame_equal(bare.drop(columns=_LEAVING), scores.drop(columns=_LEAVING))


_LEAVING = ["leaving_reason", "leaving_reason_share", "leaving_mix"]
