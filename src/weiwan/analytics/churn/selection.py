"""Model selection for bring-your-own tables (自带数据): LightGBM, CatBoost or logistic
regression, whichever a table suits, chosen on the training rows only.

No one learner wins on every churn table: on the public BigML/Orange telecom table CatBoost's
ordered target statistics beat LightGBM by 0.008 ROC AUC, on the IBM Telco table LightGBM leads
and logistic regression is within 0.005 (``bench/bench_byo_models.py``). So the model saved by
``weiwan model train --csv`` is :class:`SelectedChurnModel`: inner stratified cross-validation on
the rows it is given picks the candidate (or the mean of the two boosted models) with the best
out-of-fold ROC AUC, and every candidate is refitted on all rows so an evaluation can report them
side by side on the same outer folds. The warehouse model stays LightGBM: its reasons come from
TreeSHAP contributions and it is the one measured at scale.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from weiwan.analytics.churn.models import (
    FloatArray,
    LogisticChurnModel,
    _ChurnEstimator,
    _two_columns,
    blanks_as_level,
    default_model,
    inner_splits,
)

LIGHTGBM, CATBOOST, LOGISTIC = "lightgbm", "catboost", "logistic_regression"
BLEND = "lightgbm+catboost"
#: the learners fitted (the blend is the mean of the first two)
LEARNERS = (LIGHTGBM, CATBOOST, LOGISTIC)
#: what the selection chooses among, in the order that wins a tie
CANDIDATES = (LIGHTGBM, CATBOOST, LOGISTIC, BLEND)


class CatBoostChurnModel(_ChurnEstimator):
    """CatBoost with its defaults (1,000 rounds, learning rate set from the data size, ordered
    target statistics for the categories); a blank category is a level of its own."""

    def __init__(self, *, random_state: int = 0, n_jobs: int = 2, iterations: int = 1000) -> None:
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.iterations = iterations

    def _inputs(self, prepared: pd.DataFrame) -> pd.DataFrame:
        frame = blanks_as_level(prepared, self.categories_)
        for name in self.categories_:
            frame[name] = frame[name].astype(str)
        return frame

    def fit(self, X: pd.DataFrame, y: Any, groups: Any = None) -> Self:  # noqa: N803
        """Fit on ``X``, ``y`` (``groups`` unused: it validates nothing within its rows)."""
        prepared, labels = self._prepare_fit(X, y)
        self.model_ = CatBoostClassifier(
            iterations=self.iterations,
            random_seed=self.random_state,
            thread_count=self.n_jobs,
            cat_features=list(self.categories_),
            allow_writing_files=False,
            verbose=0,
        )
        self.model_.fit(self._inputs(prepared), labels)
        return self

    def predict_proba(self, X: pd.DataFrame) -> FloatArray:  # noqa: N803
        proba = self.model_.predict_proba(self._inputs(self._prepare(X)))[:, 1]
        return _two_columns(np.asarray(proba, dtype=np.float64))


def candidate_models(random_state: int = 0, catboost_rounds: int = 1000) -> dict[str, Any]:
    """The unfitted learners :class:`SelectedChurnModel` chooses among (the blend excepted)."""
    return {
        LIGHTGBM: default_model(random_state),
        CATBOOST: CatBoostChurnModel(random_state=random_state, iterations=catboost_rounds),
        LOGISTIC: LogisticChurnModel(random_state=random_state),
    }


class SelectedChurnModel(_ChurnEstimator):
    """The candidate with the best inner cross-validated ROC AUC on the rows it is fitted on.

    ``fit`` runs ``inner_folds`` stratified folds on those rows only (an outer evaluation's test
    fold never takes part), scores every candidate out of fold, picks the best (``chosen_``,
    ``inner_auc_``), then refits on all rows every learner (``keep_candidates``: an evaluation
    reports each through :meth:`proba_of`) or only those the choice needs (a model to save).
    With fewer than ``5 * inner_folds`` rows of a class there is nothing to choose on and
    logistic regression is taken: a boosted model's minimum leaf sizes barely let it split on a
    few dozen rows (on 96 rows with 5 churners LightGBM ranked at ROC AUC 0.41 where logistic
    regression reached 0.92, outer folds of a 120-row table).

    The inner folds fit CatBoost with ``inner_rounds`` rounds (its learning rate follows): a
    choice needs a ranking, not the last 0.003 of AUC, and at 1,000 rounds CatBoost was 85 % of
    an evaluation's time on a 7 k-row table (6 s a fit against LightGBM's 1 s on 2 cores). For
    the same reason the inner folds run on at most ``inner_rows`` rows (a sample stratified by
    the label): on an operator's export of a million rows the choice otherwise cost nine fits on
    ~530 k rows each.
    """

    def __init__(
        self,
        *,
        random_state: int = 0,
        inner_folds: int = 3,
        inner_rounds: int = 300,
        inner_rows: int = 100_000,
        keep_candidates: bool = True,
    ) -> None:
        self.random_state = random_state
        self.inner_folds = inner_folds
        self.inner_rounds = inner_rounds
        self.inner_rows = inner_rows
        self.keep_candidates = keep_candidates

    def fit(self, X: pd.DataFrame, y: Any, groups: Any = None) -> Self:  # noqa: N803
        """Choose and fit; ``groups`` (the customer of each row, when one has several) keeps a
        customer's rows on one side of every inner split, LightGBM's own included."""
        prepared, labels = self._prepare_fit(X, y)
        minority = int(min(labels.sum(), len(labels) - labels.sum()))
        self.inner_auc_: dict[str, float] = {}
        if minority >= 5 * self.inner_folds:
            self.inner_auc_ = self._inner_scores(prepared, labels, groups)
            self.chosen_ = max(CANDIDATES, key=lambda name: self.inner_auc_[name])
        else:
            self.chosen_ = LOGISTIC
        needed = {LIGHTGBM, CATBOOST} if self.chosen_ == BLEND else {self.chosen_}
        self.models_: dict[str, Any] = {
            name: model.fit(prepared, labels, groups=groups)
            for name, model in candidate_models(self.random_state).items()
            if self.keep_candidates or name in needed
        }
        return self

    def _inner_scores(self, prepared: pd.DataFrame, labels: Any, groups: Any) -> dict[str, float]:
        if len(labels) > self.inner_rows:
            kept, _ = train_test_split(
                np.arange(len(labels)),
                train_size=self.inner_rows,
                stratify=labels,
                random_state=self.random_state,
            )
            kept = np.sort(kept)
            prepared, labels = prepared.iloc[kept], np.asarray(labels)[kept]
            groups = None if groups is None else np.asarray(groups)[kept]
        oof = {name: np.zeros(len(labels)) for name in LEARNERS}
        splits = inner_splits(
            np.asarray(labels, np.int64), groups, self.inner_folds, self.random_state
        )
        for fit_idx, val_idx in splits:
            fit_groups = None if groups is None else np.asarray(groups)[fit_idx]
            for name, model in candidate_models(self.random_state, self.inner_rounds).items():
                model.fit(prepared.iloc[fit_idx], labels[fit_idx], groups=fit_groups)
                oof[name][val_idx] = model.predict_proba(prepared.iloc[val_idx])[:, 1]
        oof[BLEND] = (oof[LIGHTGBM] + oof[CATBOOST]) / 2
        return {name: float(roc_auc_score(labels, oof[name])) for name in CANDIDATES}

    def proba_of(self, name: str, X: pd.DataFrame) -> FloatArray:  # noqa: N803
        """Churn probability by candidate ``name`` (one of :data:`CANDIDATES`)."""
        if name == BLEND:
            return (self.proba_of(LIGHTGBM, X) + self.proba_of(CATBOOST, X)) / 2
        if name not in self.models_:
            raise KeyError(f"{name} was not kept: only {self.chosen_} was fitted on all rows")
        p: FloatArray = self.models_[name].predict_proba(X)[:, 1]
        return p

    def predict_proba(self, X: pd.DataFrame) -> FloatArray:  # noqa: N803
        return _two_columns(self.proba_of(self.chosen_, X))
