"""The model chosen for a brought table: the learner the table suits, chosen on training rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from weiwan.analytics.churn import selection
from weiwan.analytics.churn.selection import (
    BLEND,
    CANDIDATES,
    CATBOOST,
    LIGHTGBM,
    LOGISTIC,
    CatBoostChurnModel,
    SelectedChurnModel,
)


def _table(n: int, seed: int, *, interaction: bool) -> tuple[pd.DataFrame, np.ndarray]:
    """Twenty weak additive signals (a linear model's table), or churn decided by the
    interaction of two features and a category (a tree's table)."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(n, 20)), columns=[f"f{i}" for i in range(20)])
    x["plan"] = rng.choice(["a", "b", "c"], n)
    if interaction:
        logit = 2.5 * np.sign(x["f0"] * x["f1"]) + np.where(x["plan"] == "b", 1.5, -1.0) - 1.5
    else:
        logit = 0.35 * x.iloc[:, :20].to_numpy().sum(axis=1) - 1.5
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    return x, churned


def test_a_table_of_interactions_gets_a_boosted_model() -> None:
    x, y = _table(1500, 1, interaction=True)
    x_test, y_test = _table(3000, 2, interaction=True)
    model = SelectedChurnModel().fit(x, y)
    assert model.chosen_ in {LIGHTGBM, CATBOOST, BLEND}
    assert set(model.inner_auc_) == set(CANDIDATES)
    chosen = roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])
    linear = roc_auc_score(y_test, model.proba_of(LOGISTIC, x_test))
    assert chosen > linear + 0.1  # the linear model cannot see the interaction


def test_an_additive_table_gets_logistic_regression_and_a_saved_model_keeps_only_it() -> None:
    x, y = _table(1200, 3, interaction=False)
    x_test, y_test = _table(3000, 4, interaction=False)
    model = SelectedChurnModel().fit(x, y)
    assert model.chosen_ == LOGISTIC
    before = model.predict_proba(x_test)[:, 1]
    best_boosted = max(
        roc_auc_score(y_test, model.proba_of(name, x_test)) for name in (LIGHTGBM, CATBOOST)
    )
    assert roc_auc_score(y_test, before) > best_boosted
    saved = SelectedChurnModel(keep_candidates=False).fit(x, y)
    assert set(saved.models_) == {LOGISTIC}
    assert np.array_equal(saved.predict_proba(x_test)[:, 1], before)


def test_too_few_churners_to_choose_takes_logistic_regression() -> None:
    """A table too small to choose on gets the learner small tables support: the boosted
    models' minimum leaf sizes leave them next to blind on a few dozen rows."""
    rng = np.random.default_rng(5)
    x = pd.DataFrame(rng.normal(size=(3120, 3)), columns=["f0", "f1", "f2"])
    y = rng.random(3120) < 1 / (1 + np.exp(-(1.6 * x["f0"] - 1.2 * x["f1"] - 3.2)))
    small, rest = slice(0, 120), slice(120, None)
    assert 2 <= y[small].sum() < 15  # too few churners for three inner folds of five
    model = SelectedChurnModel().fit(x[small], y[small])
    assert model.chosen_ == LOGISTIC and model.inner_auc_ == {}
    held_out = {
        name: roc_auc_score(y[rest], model.proba_of(name, x[rest])) for name in (LIGHTGBM, LOGISTIC)
    }
    assert held_out[LOGISTIC] > held_out[LIGHTGBM] + 0.05


def test_the_inner_choice_runs_on_a_stratified_sample_of_a_large_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Choosing needs a ranking, not every row: the inner folds see at most ``inner_rows``
    rows, churners in their share; the models kept are fitted on every row."""
    x, y = _table(1500, 7, interaction=True)
    seen: list[tuple[int, float]] = []
    original = selection.candidate_models

    def spying(random_state: int = 0, catboost_rounds: int = 1000) -> dict[str, Any]:
        models = original(random_state, catboost_rounds)
        for model in models.values():
            fit = model.fit

            def recorded(
                features: pd.DataFrame, labels: Any, groups: Any = None, fit: Any = fit
            ) -> Any:
                seen.append((len(features), float(np.mean(labels))))
                return fit(features, labels, groups=groups)

            model.fit = recorded
        return models

    monkeypatch.setattr(selection, "candidate_models", spying)
    model = SelectedChurnModel(inner_rows=600, inner_rounds=30).fit(x, y)
    inner, final = seen[:9], seen[9:]
    assert set(model.inner_auc_) == set(CANDIDATES)
    assert all(rows == 400 for rows, _ in inner)  # 3 folds of 600 rows, 400 fitted each
    assert all(abs(share - y.mean()) < 0.02 for _, share in inner)
    assert final and all(rows == 1500 for rows, _ in final)


def test_catboost_handles_blanks_and_unseen_categories() -> None:
    x, y = _table(600, 6, interaction=True)
    x.loc[x.index[:50], "plan"] = None
    model = CatBoostChurnModel(iterations=50).fit(x, y)
    new = x.head(3).copy()
    new["plan"] = ["zzz", None, "a"]
    p = model.predict_proba(new)
    assert p.shape == (3, 2) and np.all((p >= 0) & (p <= 1))
