"""Pricing retention strategies with the simulator's ground truth (evaluation only).

A treated subscriber saves (true P(churn next month) − true P(churn if treated with that offer
type)) × 12 × ARPU: the next year's revenue one month's campaign keeps. The oracle knows every
true effect and treats whom it saves most revenue within the budget, one offer per subscriber.

The oracle knows what no extract shows (each subscriber's latent receptiveness to each offer,
their dominant reason, whether contact annoys them), so part of its lead is out of any model's
reach. The evidence oracle splits the gap: it ranks by the true effect *as far as the
subscriber's features show it* — the true uplift regressed on the day's features and the offer
type (LightGBM, cross-fitted by subscriber so no one's own effect predicts itself) — and is
priced with the truth like the others. ``nba ÷ evidence oracle`` is what the product's learning
and valuation lose; ``evidence oracle ÷ oracle`` what the data cannot tell.

The latent oracle bounds it from above without a regression: it knows every line's state,
latent or not (true reason, churn propensity, what its traits make of its receptiveness), and
only averages over the personal draws no record of the line can reveal. No model of any data
can choose better on average; ``latent oracle ÷ oracle`` is the share of the oracle's saving
that any choice made on evidence can reach.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from scipy.optimize import linprog
from scipy.sparse import csr_array, vstack

REVENUE_MONTHS = 12


class TruthPrices:
    """Saved revenue of (subscriber, offer type) rows, from a simulation's truth folder."""

    def __init__(self, base: pd.Series, treated: pd.Series, expected: pd.Series | None = None):
        #: true P(churn next month) by subscriber_id; if treated, by (subscriber_id, offer_type)
        self.base, self.treated = base, treated
        #: P(churn if treated) averaged over what no record shows (the latent oracle's view)
        self.expected = expected

    @classmethod
    def from_truth(cls, truth_dir: Path, month: str) -> TruthPrices:
        """The prices of a simulation's truth folder at the end of ``month`` (``YYYY-MM``)."""
        truth = pq.read_table(truth_dir / "monthly_truth.parquet").to_pandas()
        base = truth[truth["month"] == month].set_index("subscriber_id")["p_churn_next"]
        effects = pq.read_table(truth_dir / "offer_effects.parquet").to_pandas()
        effects = effects.set_index(["subscriber_id", "offer_type"])
        expected = effects.get("p_churn_next_if_treated_expected")  # absent in older folders
        return cls(base, effects["p_churn_next_if_treated"], expected)

    def saved(self, rows: pd.DataFrame, treated: pd.Series | None = None) -> pd.Series:
        """Per row (subscriber_id, offer_type, arpu_1m): expected revenue kept, yuan (by the
        true effect's; ``treated`` gives another view of it, as :meth:`true_uplift`)."""
        return pd.Series(self.true_uplift(rows, treated) * _revenue(rows), index=rows.index)

    def true_uplift(self, rows: pd.DataFrame, treated: pd.Series | None = None) -> np.ndarray:
        """Per row (subscriber_id, offer_type): true P(churn next month) − P(churn if treated)
        (by default the true effect's; ``treated`` gives another view of it)."""
        keys = pd.MultiIndex.from_arrays([rows["subscriber_id"], rows["offer_type"]])
        after = (self.treated if treated is None else treated).reindex(keys).to_numpy()
        before = self.base.reindex(rows["subscriber_id"]).to_numpy()
        return np.asarray(np.nan_to_num(before - after))

    def uplift_qini(self, pool: pd.DataFrame) -> float:
        """Qini coefficient of ``pool``'s ``predicted_uplift`` against the true uplift."""
        return qini(pool["predicted_uplift"].to_numpy(float), self.true_uplift(pool))

    def oracle(self, pool: pd.DataFrame, budget: float) -> pd.DataFrame:
        """The best achievable treatment of ``pool`` (one row per eligible offer, with cost)
        within ``budget``: the most saved revenue, one offer per subscriber."""
        priced = pool.assign(saved=self.saved(pool))
        worth = priced[priced["saved"] > 0]
        return _most_within(worth, worth["saved"].to_numpy(float), budget)

    def latent_oracle(self, pool: pd.DataFrame, budget: float) -> pd.DataFrame:
        """The oracle's choice within ``budget`` by the uplift expected given each line's
        whole state, latent or not (its true reason and churn propensity), averaged over what no
        record of it can show (the personal part of its receptiveness, whether no offer moves
        it, whether a contact annoys it); priced with the truth (``saved``). The most any
        model could choose: the rest of the oracle's lead is luck no data foretells. Empty
        when the truth folder predates it."""
        if self.expected is None or pool.empty:
            return pool.iloc[:0].assign(saved=pd.Series(dtype=float))
        expected = self.true_uplift(pool, self.expected) * _revenue(pool)
        ranked = pool.assign(saved=self.saved(pool))[expected > 0]
        return _most_within(ranked, expected[expected > 0], budget)

    def evidence_oracle(
        self, pool: pd.DataFrame, features: pd.DataFrame, budget: float
    ) -> pd.DataFrame:
        """The oracle's choice within ``budget`` by the true uplift as far as ``features``
        (one row per subscriber_id) show it; priced with the truth (``saved``)."""
        if pool.empty:
            return pool.assign(saved=pd.Series(dtype=float))
        shown = evident_uplift(pool, features, self.true_uplift(pool))
        ranked = pool.assign(saved=self.saved(pool))[shown > 0]
        return _most_within(ranked, (shown * _revenue(pool))[shown > 0], budget)


def _revenue(rows: pd.DataFrame) -> np.ndarray:
    """Per row: the revenue a kept subscriber brings, ``REVENUE_MONTHS`` of ARPU (0 unknown)."""
    return np.asarray(rows["arpu_1m"].astype(float).fillna(0.0).to_numpy() * REVENUE_MONTHS)


def _most_within(candidates: pd.DataFrame, value: np.ndarray, budget: float) -> pd.DataFrame:
    """The oracles' choice: the rows of ``candidates`` (subscriber_id, cost) of most total
    ``value``, one per subscriber, whose cost fits ``budget``. A multiple-choice knapsack,
    solved as its linear relaxation (HiGHS): at most one subscriber is split there, left out,
    and what budget remains is filled best value per yuan first. Greedy by value per yuan
    alone is no upper bound: it gives each subscriber the offer of the best ratio, a cheap one
    of little worth, where a dearer one would keep far more."""
    if candidates.empty or budget <= 0:
        return candidates.iloc[:0]
    cost = candidates["cost"].to_numpy(float).clip(min=1e-6)
    who = pd.factorize(candidates["subscriber_id"])[0]
    rows = len(candidates)
    one_each = csr_array((np.ones(rows), (who, np.arange(rows))), shape=(who.max() + 1, rows))
    constraints = vstack([one_each, csr_array(cost.reshape(1, -1))])
    limits = np.r_[np.ones(one_each.shape[0]), budget]
    solved = linprog(-value, A_ub=constraints, b_ub=limits, bounds=(0, 1), method="highs")
    taken = np.zeros(rows, dtype=bool)
    if solved.status == 0:
        taken = solved.x > 1 - 1e-6
    left = budget + 1e-9 - float(cost[taken].sum())
    served = set(who[taken])
    for i in np.argsort(-value / cost, kind="stable"):  # the rest, best value per yuan first
        if not taken[i] and who[i] not in served and cost[i] <= left:
            taken[i] = True
            served.add(who[i])
            left -= cost[i]
    return candidates[taken]


def evident_uplift(pool: pd.DataFrame, features: pd.DataFrame, true: np.ndarray) -> np.ndarray:
    """E[true uplift | features, offer type] per ``pool`` row: a regression fitted on the other
    subscribers' rows (5 folds grouped by subscriber), so a row's own effect never predicts it."""
    drop = [c for c in ("snapshot_date", "cost", "arpu_1m") if c in features.columns]
    x = pool[["subscriber_id", "offer_type"]].merge(
        features.drop(columns=drop), on="subscriber_id", how="left"
    )
    groups = x.pop("subscriber_id").to_numpy()
    for name in x.columns:
        if not (pd.api.types.is_numeric_dtype(x[name]) or pd.api.types.is_bool_dtype(x[name])):
            x[name] = x[name].astype("string").astype("category")
    x = x.astype({c: "float64" for c in x.columns if pd.api.types.is_bool_dtype(x[c])})
    return cross_fitted(x, true, groups=groups, rounds=300)


def cross_fitted(
    x: pd.DataFrame, target: np.ndarray, *, groups: np.ndarray | None = None, rounds: int = 300
) -> np.ndarray:
    """Out-of-fold predictions of ``target`` from ``x`` (LightGBM regression, 5 folds; grouped
    by ``groups`` when given, so no group predicts itself): what ``x`` tells of ``target``
    without any row remembering its own value (evaluation only: the targets are the truth)."""
    import lightgbm as lgb
    from sklearn.model_selection import GroupKFold, KFold

    if groups is None:
        splits = KFold(5, shuffle=True, random_state=0).split(x)
    else:
        splits = GroupKFold(n_splits=min(5, len(set(groups)))).split(x, target, groups)
    fitted = np.zeros(len(x))
    for fit, held in splits:
        model = lgb.LGBMRegressor(
            n_estimators=rounds,
            learning_rate=0.05,
            num_leaves=31,
            min_child_samples=50,
            n_jobs=2,
            verbose=-1,
            random_state=0,
        )
        model.fit(x.iloc[fit], target[fit])
        fitted[held] = model.predict(x.iloc[held])
    return fitted


def qini(predicted: np.ndarray, true: np.ndarray) -> float:
    """Qini coefficient of ``predicted`` uplift against the ``true`` uplift of the same rows:
    the area between the cumulative true uplift taken in the predicted order and the random
    order's straight line, over the same area for the true order (1: perfect, 0: no better
    than random, negative: worse). Ties in the prediction are taken in row order."""
    if len(true) == 0:
        return 0.0
    order = np.argsort(-predicted, kind="mergesort")
    gained = np.cumsum(true[order])
    line = true.sum() * np.arange(1, len(true) + 1) / len(true)
    best = np.cumsum(np.sort(true)[::-1])
    room = float((best - line).sum())
    return float((gained - line).sum() / room) if room > 0 else 0.0
