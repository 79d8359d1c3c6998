"""Does next best action pay? One simulated month, four strategies, the simulator's truth.

Builds a simulated operator, runs the daily pipeline for its last month end (the churn model is
trained on its own history) and compares, at the same money budget (what next best action
spent), the revenue each strategy is expected to save:

- ``nba``: the pipeline's decisions (hold-outs excluded);
- ``top_risk``: the highest churn scores first, each with its cheapest eligible offer;
- ``random``: eligible subscribers in random order, cheapest eligible offer;
- ``oracle``: the best achievable: knowing each subscriber's true effect of each offer, the
  most saved revenue per yuan first (greedy, one offer per subscriber).

A treated subscriber's saving is (true P(churn next month) − true P(churn if treated with that
offer type)) × 12 × ARPU: the next year's revenue the month's campaign keeps. Only the
evaluation reads the ground truth; the decisions never do. The baselines draw from the same
pool as next best action (subscribers with an eligible offer, hold-outs left out).
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from weiwan.analytics.churn.registry import ModelRegistry
from weiwan.analytics.decide import load_decide_config
from weiwan.analytics.ingest import ingest
from weiwan.analytics.policies import eligibility, load_policies
from weiwan.analytics.profile import load_profile
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.months import month_end
from weiwan.pipeline.run import Progress, run_pipeline
from weiwan.sim import simulate

REVENUE_MONTHS = 12
BASELINE_CHANNEL = "outbound_call"


@dataclass
class StrategyCheck:
    """Expected revenue saved per strategy (yuan) at the same budget, and how it was spent."""

    nba: float
    top_risk: float
    random: float
    oracle: float
    budget: float
    snapshot: str
    subscribers: int
    treated: dict[str, int] = field(default_factory=dict)
    spent: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _within_budget(ranked: pd.DataFrame, budget: float) -> pd.DataFrame:
    """The prefix of ``ranked`` (one row per subscriber) whose cumulative cost fits."""
    return ranked[ranked["cost"].cumsum() <= budget + 1e-9]


def _saving(rows: pd.DataFrame) -> float:
    return float(rows["saved"].sum())


def strategy_check(
    subscribers: int,
    seed: int,
    *,
    months: int = 12,
    end_month: str = "2026-10",
    workdir: Path | None = None,
    progress: Progress | None = None,
) -> StrategyCheck:
    """Simulate, run the pipeline for the last month end and compare the four strategies."""
    with tempfile.TemporaryDirectory(prefix="weiwan-strategy-", dir=workdir) as tmp:
        root = Path(tmp)
        simulate(
            subscribers=subscribers, months=months, seed=seed, out=root / "sim", end_month=end_month
        )
        day = month_end(date.fromisoformat(f"{end_month}-01"))
        with Warehouse(root / "warehouse.duckdb", threads=2, memory_limit="2GB") as wh:
            ingest(root / "sim", snapshot=day, warehouse=wh)
            run_pipeline(wh, day, progress, registry=ModelRegistry(root / "models"))
            return _compare(wh, root / "sim" / "truth", day, subscribers, seed)


def _compare(
    wh: Warehouse, truth_dir: Path, day: date, subscribers: int, seed: int
) -> StrategyCheck:
    profile = load_profile(wh, day)
    facts = profile.select("subscriber_id", "churn_probability", "arpu_1m").to_pandas()
    decisions = wh.table("decisions").filter(lambda t: t.snapshot_date == day).to_pandas()
    library = load_policies()
    config = load_decide_config()
    policies = pd.DataFrame(
        [(p.id, p.offer_type, p.total_cost()) for p in library.policies],
        columns=["policy_id", "offer_type", "offer_cost"],
    )
    pairs = eligibility(profile, library.policies, day, target_groups=library.target_groups)
    pool = pairs.to_pandas().merge(policies, on="policy_id").merge(facts, on="subscriber_id")
    held = set(decisions.loc[decisions["holdout"], "subscriber_id"])
    pool = pool[~pool["subscriber_id"].isin(held)]
    pool["cost"] = pool["offer_cost"] + config.contact_cost.get(BASELINE_CHANNEL, 0.0)

    month = f"{day:%Y-%m}"
    truth = pq.read_table(truth_dir / "monthly_truth.parquet").to_pandas()
    base = truth[truth["month"] == month].set_index("subscriber_id")["p_churn_next"]
    effects = pq.read_table(truth_dir / "offer_effects.parquet").to_pandas()
    treated = effects.set_index(["subscriber_id", "offer_type"])["p_churn_next_if_treated"]

    def saved(rows: pd.DataFrame) -> pd.Series:
        keys = pd.MultiIndex.from_arrays([rows["subscriber_id"], rows["offer_type"]])
        after = treated.reindex(keys).to_numpy()
        before = base.reindex(rows["subscriber_id"]).to_numpy()
        revenue = rows["arpu_1m"].astype(float).fillna(0.0).to_numpy() * REVENUE_MONTHS
        return pd.Series(np.nan_to_num(before - after) * revenue, index=rows.index)

    acted = decisions[decisions["action"] & decisions["policy_id"].notna()]
    nba = acted.merge(facts[["subscriber_id", "arpu_1m"]], on="subscriber_id")
    nba["saved"] = saved(nba)
    budget = float(nba["cost"].sum())

    cheapest = pool.sort_values(["subscriber_id", "cost"]).drop_duplicates("subscriber_id")
    top = _within_budget(cheapest.sort_values("churn_probability", ascending=False), budget)
    order = np.random.default_rng(seed).permutation(len(cheapest))
    rand = _within_budget(cheapest.iloc[order], budget)
    pool["saved"] = saved(pool)
    worth = pool[pool["saved"] > 0].copy()
    worth["ratio"] = worth["saved"] / worth["cost"].clip(lower=1e-6)
    best = worth.sort_values("ratio", ascending=False).drop_duplicates("subscriber_id")
    oracle = _within_budget(best, budget)
    top, rand = top.assign(saved=saved(top)), rand.assign(saved=saved(rand))
    chosen = {"nba": nba, "top_risk": top, "random": rand, "oracle": oracle}
    return StrategyCheck(
        nba=_saving(nba),
        top_risk=_saving(top),
        random=_saving(rand),
        oracle=_saving(oracle),
        budget=budget,
        snapshot=day.isoformat(),
        subscribers=subscribers,
        treated={k: len(v) for k, v in chosen.items()},
        spent={k: float(v["cost"].sum()) for k, v in chosen.items()},
    )
