"""Does next best action pay? The plan side of `weiwan simulate strategy-check`.

Builds a simulated operator, runs the daily pipeline for its last month end (the churn model is
trained on its own history) and compares, at the same money budget (what next best action
spent), the revenue each strategy is expected to save:

- ``nba``: the pipeline's decisions (hold-outs excluded);
- ``top_risk``: the highest churn scores first, each with its cheapest eligible offer;
- ``random``: eligible subscribers in random order, cheapest eligible offer;
- ``oracle``: the best achievable knowing each subscriber's true effect of each offer: the
  most saved revenue within the budget, one offer per subscriber;
- ``evidence_oracle``: the same choice by the true effect as far as the day's features
  show it (what a perfect uplift model of these features would pick; see
  ``weiwan.sim.strategy_value``): the oracle's lead split into what learning loses and what no
  extract shows;
- ``latent_oracle``: the same choice by the effect expected of each line's whole state, latent
  or not, averaged over the personal draws no record reveals: the most any choice made on
  evidence can save on average.

It also reports how well the uplift the decisions used (learned from outcomes, else the prior)
ranks every (subscriber, eligible offer type) against the true effects: the Qini coefficient.

This module never reads the ground truth: it plans what each strategy treats; the pricing (and
the oracle, which needs the true effects) is ``weiwan.sim.strategy_value``. The baselines draw
from the same pool as next best action (subscribers with an eligible offer, hold-outs left
out).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from weiwan.analytics.churn.leaving_reasons import LeavingMixer
from weiwan.analytics.churn.registry import ModelRegistry
from weiwan.analytics.contact_policy import load_contact_policy
from weiwan.analytics.decide.config import load_decide_config
from weiwan.analytics.decide.day import customer_uplift, permitted_offers
from weiwan.analytics.ingest import ingest
from weiwan.analytics.policies import PolicyLibrary, eligibility, load_policies
from weiwan.analytics.policy_models import Policy
from weiwan.analytics.profile import load_profile, snapshot_rows
from weiwan.analytics.uplift import UpliftModel
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.errors import WeiwanError
from weiwan.core.months import month_end
from weiwan.core.offer_valuation import leaving_mix, reason_drivers, uplift
from weiwan.pipeline.decision_steps import DecisionInputs, day_inputs, decide, decision_inputs
from weiwan.pipeline.run import PipelineResult, Progress, run_pipeline
from weiwan.pipeline.steps import RunContext
from weiwan.sim import simulate

if TYPE_CHECKING:
    from weiwan.sim.strategy_value import TruthPrices

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
    #: true revenue saved per yuan spent, per strategy
    saved_per_yuan: dict[str, float] = field(default_factory=dict)
    #: Qini coefficient of the predicted uplift against the true one (1: perfect order, 0: random)
    uplift_qini: float = 0.0
    uplift_learned: bool = False  # whether any offer type's uplift was learned from outcomes
    #: optimal vs greedy allocation on the same day, with the policies' budgets as configured
    #: and halved: per variant and allocation, expected value, spent, true saving, treated
    allocation: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    #: true saving of the oracle that knows only what the features show
    evidence_oracle: float = 0.0
    #: true saving of the oracle that knows each line's state but not its personal draws:
    #: the most any choice made on evidence can save on average
    latent_oracle: float = 0.0
    #: nba's saving ÷ the oracle's, ÷ the evidence oracle's and ÷ the latent oracle's
    nba_vs_oracle: float = 0.0
    nba_vs_evidence_oracle: float = 0.0
    nba_vs_latent_oracle: float = 0.0
    #: the share of the oracle's saving any choice made on evidence can reach
    latent_oracle_vs_oracle: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _within_budget(ranked: pd.DataFrame, budget: float) -> pd.DataFrame:
    """The prefix of ``ranked`` (one row per subscriber) whose cumulative cost fits."""
    return ranked[ranked["cost"].cumsum() <= budget + 1e-9]


@dataclass
class StrategyPlan:
    """What each strategy would treat (subscriber_id, offer_type, cost, arpu_1m), the pool of
    eligible offers the oracle may draw from, and the budget; no ground truth involved."""

    treatments: dict[str, pd.DataFrame]
    pool: pd.DataFrame  # with predicted_uplift: churn score × the relative uplift decided with
    budget: float
    snapshot: date
    uplift_learned: bool = False
    #: variant ("configured", "budgets_halved") → allocation ("optimal", "greedy") → the day's
    #: granted offers (subscriber_id, offer_type, cost, expected_value, arpu_1m)
    allocations: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict)
    #: the day's features (one row per subscriber), for the evidence oracle
    features: pd.DataFrame = field(default_factory=pd.DataFrame)


def plan_strategies(
    root: Path,
    subscribers: int,
    seed: int,
    *,
    months: int = 12,
    end_month: str = "2026-10",
    progress: Progress | None = None,
) -> StrategyPlan:
    """Simulate into ``root``, run the pipeline for the last month end and plan next best
    action, top-risk-cheapest-offer and random targeting at next best action's budget."""
    simulate(
        subscribers=subscribers, months=months, seed=seed, out=root / "sim", end_month=end_month
    )
    day = month_end(date.fromisoformat(f"{end_month}-01"))
    with Warehouse(root / "warehouse.duckdb", threads=2, memory_limit="2GB") as wh:
        ingest(root / "sim", snapshot=day, warehouse=wh)
        registry = ModelRegistry(root / "models")
        run = run_pipeline(wh, day, progress, registry=registry)
        require_decisions(run, subscribers)
        # the day's decision inputs once: the uplift they learn serves every plan below
        context = RunContext(wh, day, registry)
        inputs = decision_inputs(context)
        facts = load_profile(wh, day).select("subscriber_id", "arpu_1m").to_pandas()
        leaving = inputs.day.leaving if inputs else None
        plan = _plan(wh, day, seed, inputs.learned if inputs else None, facts, leaving)
        require_spend(plan, run)
        plan.features = snapshot_rows(wh, "features", day).to_pandas()
        if inputs is not None:
            plan.allocations = plan_allocations(context, inputs, facts)
        return plan


def plan_allocations(
    context: RunContext, inputs: DecisionInputs, facts: pd.DataFrame
) -> dict[str, dict[str, pd.DataFrame]]:
    """The day decided again with the optimal and the greedy allocation, with the policies'
    budgets as configured and halved (each policy's count and money cut to half of what the
    optimal allocation granted it, so that they bind): per variant and allocation, the
    granted offers with their ``facts`` (subscriber_id, arpu_1m)."""

    def granted(library: PolicyLibrary, allocation: str) -> pd.DataFrame:
        config = inputs.config.model_copy(update={"allocation": allocation})
        frame = decide(context, replace(inputs, library=library, config=config))
        acted = frame[frame["action"] & frame["policy_id"].notna()]
        return acted.merge(facts, on="subscriber_id")

    plans: dict[str, dict[str, pd.DataFrame]] = {"configured": {}, "budgets_halved": {}}
    for allocation in ("optimal", "greedy"):
        plans["configured"][allocation] = granted(inputs.library, allocation)
    optimal = plans["configured"]["optimal"]
    used = {
        str(pid): (len(rows), float(rows["cost"].sum()))
        for pid, rows in optimal.groupby("policy_id")
    }
    halved = replace(
        inputs.library,
        policies=tuple(_halved(policy, used) for policy in inputs.library.policies),
    )
    for allocation in ("optimal", "greedy"):
        plans["budgets_halved"][allocation] = granted(halved, allocation)
    return plans


def _halved(policy: Policy, used: dict[str, tuple[int, float]]) -> Policy:
    """``policy`` with count and money budgets of half what it was granted (unused: as is)."""
    if policy.id not in used:
        return policy
    count, money = used[policy.id]
    budget = policy.budget.model_copy(update={"count": count // 2, "money": money / 2})
    return policy.model_copy(update={"budget": budget})


def eligible_pool(
    wh: Warehouse,
    day: date,
    learned: UpliftModel | None,
    held: set[str],
    leaving: LeavingMixer | None = None,
) -> pd.DataFrame:
    """Every eligible (subscriber, policy) of ``day`` but the subscribers ``held`` out, with its
    cost through the baseline channel, churn score, ARPU and the uplift the decisions would
    predict (``predicted_uplift``: churn score × relative uplift, ``learned`` from outcomes
    where the evidence allowed, else the prior; matched to the ``leaving`` reasons where the
    churn model has them, as the decisions are)."""
    profile = load_profile(wh, day)
    facts = profile.select(
        "subscriber_id",
        "churn_probability",
        "arpu_1m",
        reason_feature="reason_1_feature",
        reason_feature_2="reason_2_feature",
        reason_feature_3="reason_3_feature",
    ).to_pandas()
    library = load_policies()
    config = load_decide_config()
    policies = pd.DataFrame(
        [(p.id, p.offer_type, p.total_cost()) for p in library.policies],
        columns=["policy_id", "offer_type", "offer_cost"],
    )
    pairs = eligibility(profile, library.policies, day, target_groups=library.target_groups)
    pool: pd.DataFrame = (
        pairs.to_pandas().merge(policies, on="policy_id").merge(facts, on="subscriber_id")
    )
    pool = pool[~pool["subscriber_id"].isin(held)].copy()
    pool["cost"] = pool["offer_cost"] + config.contact_cost.get(BASELINE_CHANNEL, 0.0)
    mix_columns: list[str] = []
    if leaving is not None and config.use_leaving_reasons:
        reasons = leaving.for_subscribers(profile, pool["subscriber_id"])
        mix_columns = list(reasons.columns)
        pool = pool.join(reasons, on="subscriber_id")
    mine = customer_uplift(pool, profile, learned, config) if learned is not None else None
    drivers = reason_drivers(pool, config)
    channel = pd.Series(BASELINE_CHANNEL, index=pool.index)
    mix = leaving_mix(pool, config)
    relative = uplift(pool["offer_type"], drivers, channel, config, mine, mix=mix)  # as decided
    pool["predicted_uplift"] = pool["churn_probability"].astype(float) * relative
    return pool.drop(columns=mix_columns)


def permitted(wh: Warehouse, day: date, pool: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``pool`` the operator's rules allow on ``day`` through at least one of the
    policy's channels, as the decisions judge them (``analytics.decide.day.permitted_offers``:
    entry limits given the earlier grants, do not disturb, objections, cool-off, contact
    caps): an oracle must keep the rules next best action keeps, or it ranks the actions no one
    may take (the same customer's offer every month)."""
    profile = load_profile(wh, day)
    inputs = day_inputs(RunContext(wh, day), profile)
    allowed = permitted_offers(
        inputs, load_policies(), load_contact_policy(), load_decide_config(), day
    )
    pairs = allowed.select("subscriber_id", "policy_id").distinct().to_pandas()
    kept: pd.DataFrame = pool.merge(pairs, on=["subscriber_id", "policy_id"])
    return kept


def _cheapest(pool: pd.DataFrame) -> pd.DataFrame:
    """Each subscriber's cheapest eligible offer."""
    cheapest: pd.DataFrame = pool.sort_values(["subscriber_id", "cost"]).drop_duplicates(
        "subscriber_id"
    )
    return cheapest


def require_decisions(run: PipelineResult, subscribers: int) -> None:
    """Refuse, saying why, when the day's run made no decisions to compare (no model: too
    few churners on a small operator; no policy valid on the day)."""
    if run.rows.get("decisions"):
        return
    raise WeiwanError(
        f"no next best action on {run.snapshot} to compare: "
        + ("; ".join(run.warnings) or "the day's decisions are empty")
        + f" (simulated {subscribers:,} subscribers; try more, e.g. --subscribers 5000)"
    )


def require_spend(plan: StrategyPlan, run: PipelineResult) -> None:
    """Refuse, saying why, when next best action granted no offer: every strategy would be
    compared at a budget of nothing (the run's warnings name the cause, e.g. outcomes that
    show no offer cutting churn)."""
    if plan.budget > 0:
        return
    raise WeiwanError(
        f"next best action granted no offer on {plan.snapshot}, so there is no budget to "
        "compare the strategies at" + (": " + "; ".join(run.warnings) if run.warnings else "")
    )


def top_risk_first(pool: pd.DataFrame, budget: float) -> pd.DataFrame:
    """The baseline: highest churn score first, each with its cheapest eligible offer, while
    the budget lasts."""
    return _within_budget(_cheapest(pool).sort_values("churn_probability", ascending=False), budget)


def _plan(
    wh: Warehouse,
    day: date,
    seed: int,
    learned: UpliftModel | None,
    facts: pd.DataFrame,
    leaving: LeavingMixer | None = None,
) -> StrategyPlan:
    decisions = wh.table("decisions").filter(lambda t: t.snapshot_date == day).to_pandas()
    held = set(decisions.loc[decisions["holdout"], "subscriber_id"])
    pool = eligible_pool(wh, day, learned, held, leaving)
    acted = decisions[decisions["action"] & decisions["policy_id"].notna()]
    nba = acted.merge(facts, on="subscriber_id")
    budget = float(nba["cost"].sum())
    top = top_risk_first(pool, budget)
    cheapest = _cheapest(pool)
    order = np.random.default_rng(seed).permutation(len(cheapest))
    rand = _within_budget(cheapest.iloc[order], budget)
    treatments = {"nba": nba, "top_risk": top, "random": rand}
    return StrategyPlan(treatments, pool, budget, day, uplift_learned=learned is not None)


def summarise(plan: StrategyPlan, subscribers: int, prices: TruthPrices) -> StrategyCheck:
    """The strategies priced by ``prices`` (the simulation's truth: revenue kept per treated
    row), the oracles' treatments chosen by it from the plan's pool within its budget (the
    evidence oracle's also from the day's features), and the pool's predicted uplift judged
    against the true one."""
    saved = prices.saved
    chosen = {name: rows.assign(saved=saved(rows)) for name, rows in plan.treatments.items()}
    chosen["oracle"] = prices.oracle(plan.pool, plan.budget)
    chosen["latent_oracle"] = prices.latent_oracle(plan.pool, plan.budget)
    chosen["evidence_oracle"] = prices.evidence_oracle(plan.pool, plan.features, plan.budget)
    totals = {name: float(rows["saved"].sum()) for name, rows in chosen.items()}
    spent = {name: float(rows["cost"].sum()) for name, rows in chosen.items()}
    allocation = {
        variant: {
            name: {
                "expected_value": float(rows["expected_value"].sum()),
                "spent": float(rows["cost"].sum()),
                "saved": float(saved(rows).sum()) if len(rows) else 0.0,
                "treated": float(len(rows)),
            }
            for name, rows in plans.items()
        }
        for variant, plans in plan.allocations.items()
    }
    return StrategyCheck(
        nba=totals["nba"],
        top_risk=totals["top_risk"],
        random=totals["random"],
        oracle=totals["oracle"],
        budget=plan.budget,
        snapshot=plan.snapshot.isoformat(),
        subscribers=subscribers,
        treated={name: len(rows) for name, rows in chosen.items()},
        spent=spent,
        saved_per_yuan={name: totals[name] / spent[name] if spent[name] else 0.0 for name in spent},
        uplift_qini=prices.uplift_qini(plan.pool),
        uplift_learned=plan.uplift_learned,
        allocation=allocation,
        evidence_oracle=totals["evidence_oracle"],
        latent_oracle=totals["latent_oracle"],
        nba_vs_oracle=_ratio(totals["nba"], totals["oracle"]),
        nba_vs_evidence_oracle=_ratio(totals["nba"], totals["evidence_oracle"]),
        nba_vs_latent_oracle=_ratio(totals["nba"], totals["latent_oracle"]),
        latent_oracle_vs_oracle=_ratio(totals["latent_oracle"], totals["oracle"]),
    )


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole > 0 else 0.0
