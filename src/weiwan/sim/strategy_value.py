"""Pricing retention strategies with the simulator's ground truth (evaluation only).

A treated subscriber saves (true P(churn next month) − true P(churn if treated with that offer
type)) × 12 × ARPU: the next year's revenue one month's campaign keeps. The oracle knows every
true effect and treats the most saved revenue per yuan first, one offer per subscriber.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

REVENUE_MONTHS = 12


class TruthPrices:
    """Saved revenue of (subscriber, offer type) rows, from a simulation's truth folder."""

    def __init__(self, truth_dir: Path, month: str):
        truth = pq.read_table(truth_dir / "monthly_truth.parquet").to_pandas()
        self.base = truth[truth["month"] == month].set_index("subscriber_id")["p_churn_next"]
        effects = pq.read_table(truth_dir / "offer_effects.parquet").to_pandas()
        self.treated = effects.set_index(["subscriber_id", "offer_type"])["p_churn_next_if_treated"]

    def saved(self, rows: pd.DataFrame) -> pd.Series:
        """Per row (subscriber_id, offer_type, arpu_1m): expected revenue kept, yuan."""
        keys = pd.MultiIndex.from_arrays([rows["subscriber_id"], rows["offer_type"]])
        after = self.treated.reindex(keys).to_numpy()
        before = self.base.reindex(rows["subscriber_id"]).to_numpy()
        revenue = rows["arpu_1m"].astype(float).fillna(0.0).to_numpy() * REVENUE_MONTHS
        return pd.Series(np.nan_to_num(before - after) * revenue, index=rows.index)

    def oracle(self, pool: pd.DataFrame, budget: float) -> pd.DataFrame:
        """The best achievable treatment of ``pool`` (one row per eligible offer, with cost)
        within ``budget``: most saved revenue per yuan first, one offer per subscriber."""
        priced = pool.assign(saved=self.saved(pool))
        worth = priced[priced["saved"] > 0].copy()
        worth["ratio"] = worth["saved"] / worth["cost"].clip(lower=1e-6)
        best = worth.sort_values("ratio", ascending=False).drop_duplicates("subscriber_id")
        return best[best["cost"].cumsum() <= budget + 1e-9]
