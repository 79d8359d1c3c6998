"""The default churn model and the baselines on mixed-type synthetic data with a known truth."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score

from weiwan.analytics.churn.models import (
    GradientBoostingChurnModel,
    LogisticChurnModel,
    MedianImputer,
    NaiveBayesChurnModel,
    baseline_models,
    default_model,
    inner_splits,
    prepare_features,
    validation_slice,
)


def synthetic(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Numbers, text categories, a flag and blanks; churn from a truth with the threshold
    effects operators see (contract about to end, first months on the network)."""
    rng = np.random.default_rng(seed)
    usage_drop = rng.normal(size=n)
    bill = rng.exponential(60, size=n)
    complaints = rng.poisson(0.5, size=n).astype(float)
    plan = rng.choice(["basic", "plus", "max", "family"], size=n, p=[0.4, 0.3, 0.2, 0.1])
    region = rng.choice([f"r{i:02d}" for i in range(30)], size=n)
    prepaid = rng.random(n) < 0.4
    contract_left = np.where(prepaid, np.nan, rng.integers(0, 25, size=n))
    tenure = rng.integers(0, 120, size=n).astype(float)
    logit = (
        -2.4
        + 1.6 * (contract_left <= 1)  # NaN (prepaid, no contract) compares False
        + 1.0 * (tenure < 6)
        + 1.1 * usage_drop
        + 0.9 * (complaints >= 2)
        + 0.8 * np.maximum(usage_drop, 0) * prepaid
        - 0.6 * np.log1p(bill / 30)
        + np.select([plan == "basic", plan == "max"], [0.7, -0.8], 0.0)
        + 0.4 * np.isin(region, ["r03", "r07", "r11"])
    )
    truth = 1 / (1 + np.exp(-logit))
    churned = (rng.random(n) < truth).astype(int)
    frame = pd.DataFrame(
        {
            "usage_drop": usage_drop,
            "bill": bill,
            "complaints": complaints,
            "plan": plan,
            "region": region,
            "prepaid": prepaid,
            "months_to_contract_end": contract_left,
            "tenure_months": tenure,
            **{f"noise_{i}": rng.normal(size=n) for i in range(4)},
        }
    )
    frame.loc[rng.random(n) < 0.1, "bill"] = np.nan
    frame.loc[rng.random(n) < 0.05, "plan"] = None
    return frame, churned, truth


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    x, y, _ = synthetic(4000, 1)
    x_test, y_test, truth = synthetic(8000, 2)
    return {"x": x, "y": y, "x_test": x_test, "y_test": y_test, "truth": truth}


@pytest.fixture(scope="module")
def fitted(data: dict[str, Any]) -> dict[str, Any]:
    models = {"default": default_model(0), **baseline_models(0)}
    return {name: model.fit(data["x"], data["y"]) for name, model in models.items()}


def test_prepare_features_fixes_categories_for_scoring() -> None:
    train = pd.DataFrame(
        {"n": ["1", "2"], "x": [1, None], "flag": [True, False], "plan": [" a", "b"]}
    )
    prepared, cats = prepare_features(train, categorical=["n"])
    assert cats == {"n": ["1", "2"], "plan": ["a", "b"]}
    assert prepared["x"].dtype == np.float64 and np.isnan(prepared["x"].iloc[1])
    assert prepared["flag"].tolist() == [1.0, 0.0]
    new = pd.DataFrame({"n": [2, 3], "x": ["5", "?"], "flag": [False, None], "plan": ["c", "a"]})
    scored, again = prepare_features(new, categories=cats)
    assert again == cats and list(scored.columns) == list(new.columns)
    assert scored["n"].tolist()[0] == "2" and pd.isna(scored["n"].iloc[1])  # unseen -> NaN
    assert pd.isna(scored["plan"].iloc[0]) and scored["plan"].iloc[1] == "a"
    assert scored["plan"].cat.codes.tolist() == [-1, 0]
    assert scored["x"].iloc[0] == 5.0 and np.isnan(scored["x"].iloc[1])


def test_a_model_ready_frame_is_not_prepared_again() -> None:
    """Training hands every model frames it prepared already: they are used as they are (not
    copied), and anything short of model-ready is prepared in full."""
    raw = pd.DataFrame({"x": [1, None, 3], "plan": [" a", "b", ""], "flag": [True, False, True]})
    prepared, cats = prepare_features(raw)
    again, same = prepare_features(prepared)
    assert again is prepared and same == cats == {"plan": ["a", "b"]}
    assert prepare_features(prepared, categories=cats)[0] is prepared
    # other levels than the frame's: re-coded, an unknown one blank
    narrower, _ = prepare_features(prepared, categories={"plan": ["b"]})
    assert narrower is not prepared and narrower["plan"].cat.codes.tolist() == [-1, 0, -1]
    # a column not yet float64, or named as a category, is not model-ready
    mixed = prepared.assign(x=pd.array([1, 2, 3], dtype="Int64"))
    assert prepare_features(mixed)[0]["x"].dtype == np.float64
    forced, forced_cats = prepare_features(prepared, categorical=["x"])
    assert forced is not prepared and forced_cats["x"] == ["1", "3"]
    # the model fitted on the prepared frame is the model fitted on the raw one
    y = np.array([0, 1, 0] * 20)
    big_raw = pd.concat([raw] * 20, ignore_index=True)
    big, _ = prepare_features(big_raw)
    from_raw = LogisticChurnModel().fit(big_raw, y).predict_proba(big_raw)
    from_ready = LogisticChurnModel().fit(big, y).predict_proba(big)
    np.testing.assert_allclose(from_raw, from_ready)


@pytest.mark.parametrize("name", ["default", "naive_bayes", "logistic_regression"])
def test_models_predict_on_nan_and_unseen_categories(
    name: str, fitted: dict[str, Any], data: dict[str, Any]
) -> None:
    x = data["x_test"].head(200).copy()
    x.loc[x.index[:20], "plan"] = "brand-new plan"
    x.loc[x.index[20:40], "usage_drop"] = np.nan
    x.loc[x.index[40:60], "region"] = None
    proba = fitted[name].predict_proba(x)
    assert proba.shape == (200, 2)
    assert np.isfinite(proba).all() and (proba >= 0).all() and (proba <= 1).all()
    assert np.allclose(proba.sum(axis=1), 1.0)
    prepared, _ = prepare_features(x, categories=fitted[name].categories_)
    assert np.allclose(fitted[name].predict_proba(prepared), proba)


@pytest.mark.parametrize(
    "model",
    [GradientBoostingChurnModel(random_state=3), NaiveBayesChurnModel(), LogisticChurnModel()],
)
def test_same_seed_same_model(model: Any, data: dict[str, Any]) -> None:
    x, y = data["x"].head(1500), data["y"][:1500]
    first = clone(model).fit(x, y).predict_proba(data["x_test"])
    second = clone(model).fit(x, y).predict_proba(data["x_test"])
    assert np.array_equal(first, second)


def test_contributions_add_up_to_the_raw_log_odds(
    fitted: dict[str, Any], data: dict[str, Any]
) -> None:
    model = fitted["default"]
    x = data["x_test"].head(300)
    contrib = model.contributions(x)
    assert contrib.shape == (300, len(model.feature_names_) + 1)
    raw = model.booster_.predict(
        prepare_features(x, categories=model.categories_)[0],
        num_iteration=model.n_rounds_,
        raw_score=True,
    )
    assert np.allclose(contrib.sum(axis=1), raw)
    assert np.allclose(raw, model.raw_score(x))
    assert model.feature_names_ == list(data["x"].columns)


def test_default_beats_both_baselines_and_nears_the_truth(
    fitted: dict[str, Any], data: dict[str, Any]
) -> None:
    y, truth = data["y_test"], data["truth"]
    auc = {n: roc_auc_score(y, m.predict_proba(data["x_test"])[:, 1]) for n, m in fitted.items()}
    best = roc_auc_score(y, truth)
    assert auc["default"] > auc["naive_bayes"]
    assert auc["default"] > auc["logistic_regression"]
    assert auc["default"] >= 0.97 * best, (auc, best)


def test_default_probabilities_are_calibrated(fitted: dict[str, Any], data: dict[str, Any]) -> None:
    p = fitted["default"].predict_proba(data["x_test"])[:, 1]
    assert p.mean() == pytest.approx(data["y_test"].mean(), abs=0.02)


def test_estimator_conventions() -> None:
    model = GradientBoostingChurnModel(random_state=7, num_leaves=7)
    assert model.get_params()["num_leaves"] == 7
    assert clone(model).get_params() == model.get_params()
    assert not hasattr(model, "booster_")


def test_labels_must_be_binary_with_both_classes() -> None:
    x = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(ValueError, match="both classes"):
        LogisticChurnModel().fit(x, np.zeros(4))
    with pytest.raises(ValueError, match="0/1"):
        LogisticChurnModel().fit(x, np.array([0, 1, 2, 1]))


def _in_three_snapshots(x: pd.DataFrame, y: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, Any]:
    """Each customer three times, as in three snapshots whose label windows overlap: the same
    churn, the usage a little different."""
    rng = np.random.default_rng(0)
    copies = []
    for _ in range(3):
        copy = x.copy()
        for column in ("usage_drop", "bill", "tenure_months"):
            copy[column] = copy[column] + rng.normal(0, 0.01, len(copy))
        copies.append(copy)
    customers = np.tile(np.arange(len(y)), 3)
    return pd.concat(copies, ignore_index=True), np.tile(y, 3), customers


@pytest.mark.parametrize("large_rows", [200_000, 5_000], ids=["inner folds", "one slice"])
def test_a_customer_in_several_snapshots_is_validated_apart(
    data: dict[str, Any], large_rows: int
) -> None:
    """Split across fit and validation rows, a customer's copies are memorised and early
    stopping runs on; kept on one side (``groups``), the model stops in time and ranks new
    customers better."""
    x, y, customers = _in_three_snapshots(data["x"], data["y"])
    fitted = {}
    for name, groups in (("plain", None), ("grouped", customers)):
        model = default_model(0)
        model.large_rows = large_rows
        fitted[name] = model.fit(x, y, groups=groups)
    auc = {
        name: roc_auc_score(data["y_test"], model.predict_proba(data["x_test"])[:, 1])
        for name, model in fitted.items()
    }
    assert fitted["grouped"].n_rounds_ < fitted["plain"].n_rounds_ / 3, auc
    assert auc["grouped"] > auc["plain"] + 0.01, auc
    for fit_rows, checked in [*inner_splits(y, customers, 3, 0), validation_slice(y, customers, 0)]:
        assert not set(customers[fit_rows]) & set(customers[checked])
        assert len(fit_rows) + len(checked) == len(y)


def test_the_median_imputer_gives_what_scikit_learns_gives() -> None:
    """The logistic baseline's imputer: the same numbers as SimpleImputer (median, indicators,
    empty columns kept as 0) on gaps, whole numbers, an empty column and a column with none, and
    on new rows with gaps where the fitted ones had none."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "gaps": np.where(rng.random(1001) < 0.2, np.nan, rng.normal(size=1001)),
            "even": np.where(np.arange(1001) == 0, np.nan, rng.integers(0, 9, 1001)),
            "empty": np.full(1001, np.nan),
            "full": rng.exponential(size=1001),
            "nullable": pd.array(
                [None if i % 7 == 0 else i % 5 for i in range(1001)], dtype="Int64"
            ),
        }
    )
    new = frame.sample(300, random_state=1).reset_index(drop=True)
    new.loc[:20, "full"] = np.nan
    theirs = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
    ours = MedianImputer().fit(frame)
    theirs.fit(frame)
    for rows in (frame, new):
        np.testing.assert_array_equal(ours.transform(rows), theirs.transform(rows))
    assert ours.statistics_[2] == 0.0 and list(ours.indicated_) == [0, 1, 2, 4]
    assert frame["gaps"].isna().sum() > 0  # the caller's frame keeps its gaps
