"""The strategy check: next best action against simple targeting, judged by the truth.

5,000 subscribers x 8 months (the command's default is 20,000 x 12): next best action still
treats 80-100 subscribers and saves 4-150 times what random targeting saves (seeds 3-5), at
about 60 % of the cost of 8,000 x 12.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from model_fixtures import train_on_the_15th_only
from weiwan.cli import app
from weiwan.core.errors import WeiwanError
from weiwan.core.settings import get_settings
from weiwan.demo.strategy_check import StrategyPlan, require_spend
from weiwan.pipeline.run import PipelineResult
from weiwan.sim.strategy_value import TruthPrices, _most_within, cross_fitted, qini


def test_an_operator_too_small_for_a_model_is_told_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,000 subscribers × 6 months: too few churners to train, so no decisions to compare —
    the pipeline's own reason and what to do, not a missing-table traceback."""
    monkeypatch.setenv("WEIWAN_HOME", str(tmp_path))
    get_settings.cache_clear()
    args = ["simulate", "strategy-check", "--subscribers", "1000", "--months", "6", "--json"]
    result = CliRunner().invoke(app, [*args, "--seed", "5"])
    get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    error = json.loads(result.stdout)["error"]
    assert error.startswith("no next best action on ") and "too few churners" in error
    assert "--subscribers" in error
    assert isinstance(result.exception, SystemExit)  # the clean exit, not a crash


def test_a_day_that_granted_nothing_is_refused_with_the_runs_reasons() -> None:
    """Outcomes that show no offer cutting churn leave next best action granting nothing:
    every strategy would be compared at a budget of 0 (all figures 0, every ratio 0/0), so
    the check refuses and passes on the run's warnings."""
    day = date(2026, 11, 30)
    nothing = StrategyPlan(treatments={}, pool=pd.DataFrame(), budget=0.0, snapshot=day)
    why = "the outcomes of 8,063 customers offered care_call … show no cut in churn"
    with pytest.raises(WeiwanError) as refused:
        require_spend(nothing, PipelineResult(day, warnings=[why]))
    assert "granted no offer on 2026-11-30" in str(refused.value)
    assert str(refused.value).endswith(why)
    require_spend(replace(nothing, budget=12.0), PipelineResult(day))  # something to compare


def test_strategy_check_prints_all_four_at_the_same_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEIWAN_HOME", str(tmp_path))
    train_on_the_15th_only(monkeypatch)
    get_settings.cache_clear()
    size = ["--subscribers", "5000", "--months", "8"]
    args = ["simulate", "strategy-check", *size, "--seed", "3", "--json"]
    result = CliRunner().invoke(app, args)
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    oracles = ("oracle", "latent_oracle", "evidence_oracle")
    print({k: figures[k] for k in ("nba", "top_risk", "random", *oracles)})
    assert figures["budget"] > 0 and figures["treated"]["nba"] > 20
    for name in ("top_risk", "random", *oracles):  # nobody spends more
        assert figures["spent"][name] <= figures["budget"] + 1e-6
    assert figures["oracle"] >= max(figures["nba"], figures["top_risk"], figures["random"])
    assert figures["nba"] > figures["random"]
    # the oracle that knows only what the features show: beats random, not the full oracle
    # (both greedy by their own ratio, so a few percent of slack)
    assert figures["random"] < figures["evidence_oracle"] <= figures["oracle"] * 1.05
    assert figures["nba_vs_oracle"] == pytest.approx(figures["nba"] / figures["oracle"])
    assert figures["nba_vs_evidence_oracle"] == pytest.approx(
        figures["nba"] / figures["evidence_oracle"]
    )
    # the oracle that knows each line's state but not its personal draws: far better than
    # random, short of the oracle that knows the draws too
    assert figures["random"] < figures["latent_oracle"] < figures["oracle"]
    assert figures["latent_oracle_vs_oracle"] == pytest.approx(
        figures["latent_oracle"] / figures["oracle"]
    )
    assert figures["nba_vs_latent_oracle"] == pytest.approx(
        figures["nba"] / figures["latent_oracle"]
    )
    for name, spent in figures["spent"].items():
        assert figures["saved_per_yuan"][name] == pytest.approx(figures[name] / spent)
    # the uplift the decisions used orders (subscriber, offer) pairs far better than chance
    assert 0.1 < figures["uplift_qini"] <= 1.0
    # the 5 000-subscriber operator's own campaigns hold out fewer than the 200 customers the
    # learner needs (analytics.uplift.MIN_ARM) in either window: the day decides by the priors
    assert figures["uplift_learned"] is False
    # optimal vs greedy allocation of the same day, with the budgets as configured and halved
    configured, halved = (
        figures["allocation"]["configured"],
        figures["allocation"]["budgets_halved"],
    )
    assert configured["optimal"]["saved"] == pytest.approx(figures["nba"])  # the same decisions
    assert configured["optimal"]["spent"] == pytest.approx(figures["budget"])
    for plans in (configured, halved):
        optimal, greedy = plans["optimal"], plans["greedy"]
        assert optimal["expected_value"] >= greedy["expected_value"] - 1e-6
    # halved budgets bind: less is spent and fewer are treated than as configured (not
    # necessarily half: a policy the configured day left unused keeps its budget and may
    # take some of those the halved ones no longer can)
    assert halved["optimal"]["spent"] < configured["optimal"]["spent"]
    assert 0 < halved["optimal"]["treated"] < configured["optimal"]["treated"]


def test_qini_is_one_for_the_true_order_and_zero_for_none() -> None:
    rng = np.random.default_rng(0)
    true = rng.gamma(0.5, 0.02, 5000) - 0.002
    assert qini(true, true) == pytest.approx(1.0)
    assert qini(-true, true) < -0.5
    assert abs(qini(rng.random(5000), true)) < 0.1
    assert 0.2 < qini(true + rng.normal(0, 0.02, 5000), true) < 0.95
    assert qini(np.zeros(0), np.zeros(0)) == 0.0


def test_cross_fitted_predictions_never_remember_their_own_rows() -> None:
    rng = np.random.default_rng(1)
    x = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000)})
    shown = cross_fitted(x, 2 * x["a"].to_numpy() - x["b"].to_numpy())
    assert np.corrcoef(shown, 2 * x["a"] - x["b"])[0, 1] > 0.95  # what x tells, it learns
    # a value per group that nothing in x explains: out of fold there is nothing to find,
    # whereas a model that had seen the group would repeat it
    groups = np.repeat(np.arange(200), 10)
    per_group = rng.normal(size=200)[groups]
    x["g"] = groups.astype(float)
    shown = cross_fitted(x, per_group, groups=groups)
    assert abs(np.corrcoef(shown, per_group)[0, 1]) < 0.15


def test_the_oracle_keeps_the_most_within_its_budget_one_offer_each() -> None:
    """Not the best value per yuan first: x's care call (1 yuan, keeps 4) has the best ratio,
    but its discount (10 yuan, keeps 30) is worth more than the care call and y's offer
    together; the budget left after the solution is filled with what still fits."""
    candidates = pd.DataFrame(
        {
            "subscriber_id": ["x", "x", "y", "z"],
            "offer_type": ["care_call", "discount", "discount", "bonus_data"],
            "cost": [1.0, 10.0, 10.0, 2.0],
        }
    )
    value = np.array([4.0, 30.0, 20.0, 1.0])
    chosen = _most_within(candidates, value, 11.0)
    assert sorted(zip(chosen["subscriber_id"], chosen["offer_type"], strict=True)) == [
        ("x", "discount")
    ]
    roomy = _most_within(candidates, value, 23.0)  # x's discount, y's, and z's fits after
    assert sorted(roomy["subscriber_id"]) == ["x", "y", "z"]
    assert roomy.loc[roomy["subscriber_id"] == "x", "offer_type"].item() == "discount"
    assert roomy["cost"].sum() <= 23.0
    assert _most_within(candidates, value, 0.5).empty


def test_the_latent_oracle_chooses_by_the_expected_effect_and_is_priced_by_the_true_one() -> None:
    """x is expected to be moved most, but the draws went y's way: the oracle treats y, the
    latent oracle x (what any evidence would have chosen), and it is priced at x's true
    effect; a truth folder without the expected effects has no latent oracle."""
    base = pd.Series({"x": 0.2, "y": 0.2})
    keys = pd.MultiIndex.from_tuples([("x", "discount"), ("y", "discount")])
    treated = pd.Series([0.18, 0.05], index=keys)  # y's true effect 0.15, x's 0.02
    expected = pd.Series([0.10, 0.16], index=keys)  # x expected 0.10, y 0.04
    pool = pd.DataFrame(
        {"subscriber_id": ["x", "y"], "offer_type": "discount", "cost": 5.0, "arpu_1m": 50.0}
    )
    prices = TruthPrices(base, treated, expected)
    assert prices.oracle(pool, 5.0)["subscriber_id"].tolist() == ["y"]
    latent = prices.latent_oracle(pool, 5.0)
    assert latent["subscriber_id"].tolist() == ["x"]
    assert latent["saved"].item() == pytest.approx(0.02 * 12 * 50.0)
    assert TruthPrices(base, treated).latent_oracle(pool, 5.0).empty
    # the saving of the same rows priced by the expected effect instead of the drawn one
    by_draw, on_average = prices.saved(pool), prices.saved(pool, expected)
    assert by_draw.tolist() == pytest.approx([0.02 * 600, 0.15 * 600])
    assert on_average.tolist() == pytest.approx([0.10 * 600, 0.04 * 600])
