"""Optimal allocation (decide/allocation.py) against the greedy arbitration."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from weiwan.analytics.decide.allocation import solve_allocation
from weiwan.analytics.decide.arbitration import arbitrate


def _candidates(rows: Sequence[tuple[str, str, str, float, float]]) -> pd.DataFrame:
    """(subscriber, policy, channel, offer cost, expected value) rows."""
    frame = pd.DataFrame(
        rows, columns=["subscriber_id", "policy_id", "channel", "offer_cost", "expected_value"]
    )
    return frame.assign(cost=frame["offer_cost"])


def _budgets(**money: float) -> pd.DataFrame:
    return pd.DataFrame({"policy_id": list(money), "count": np.inf, "money": list(money.values())})


def _granted_value(frame: pd.DataFrame) -> float:
    return float(frame.loc[frame["granted"], "expected_value"].sum())


def _both(
    live: pd.DataFrame, budgets: pd.DataFrame, capacity: dict[str, float]
) -> tuple[pd.DataFrame, pd.DataFrame, dict[tuple[str, str], float]]:
    solved = solve_allocation(live, budgets, capacity)
    assert solved is not None
    left = {c: None if not np.isfinite(n) else int(n) for c, n in capacity.items()}
    greedy = arbitrate(live, budgets, left)
    optimal = arbitrate(live, budgets, left, order=solved.share)
    return greedy, optimal, solved.shadow_prices


def test_a_money_budget_goes_to_the_most_value_per_yuan() -> None:
    """100 yuan: one 100-yuan offer worth 50 (greedy takes it) or two 50-yuan ones worth 40
    each (80 together); one more yuan of that budget would go to the first at 0.5 a yuan."""
    rows = [("a", "p", "outbound_call", 100.0, 50.0), ("b", "p", "outbound_call", 50.0, 40.0)]
    live = _candidates([*rows, ("c", "p", "outbound_call", 50.0, 40.0)])
    greedy, optimal, prices = _both(live, _budgets(p=100), {"outbound_call": np.inf})
    assert _granted_value(greedy) == 50
    assert _granted_value(optimal) == 80
    assert set(optimal.loc[optimal["granted"], "subscriber_id"]) == {"b", "c"}
    assert prices == {("policy_money", "p"): pytest.approx(0.5)}


def test_a_full_channel_goes_to_whom_it_is_worth_most_against_the_next_channel() -> None:
    """One call left: greedy calls the first subscriber (30) and texts the second (5); the
    optimum texts the first (25) and calls the second (20); a second call would be worth 5
    (calling both: 50)."""
    first = [("s1", "p", "outbound_call", 0.0, 30.0), ("s1", "p", "sms", 0.0, 25.0)]
    live = _candidates(
        [*first, ("s2", "p", "outbound_call", 0.0, 20.0), ("s2", "p", "sms", 0.0, 5.0)]
    )
    greedy, optimal, prices = _both(live, _budgets(p=np.inf), {"outbound_call": 1, "sms": 10})
    assert _granted_value(greedy) == 35 and _granted_value(optimal) == 45
    assert prices == {("channel", "outbound_call"): pytest.approx(5.0)}


def test_a_value_that_could_not_be_estimated_does_not_stop_the_solver() -> None:
    live = _candidates([("a", "p", "sms", 1.0, float("nan")), ("b", "p", "sms", 1.0, 4.0)])
    greedy, optimal, _ = _both(live, _budgets(p=1.0), {"sms": np.inf})
    assert optimal.loc[optimal["granted"], "subscriber_id"].tolist() == ["b"]
    assert _granted_value(greedy) == 4.0


def test_nothing_binding_grants_what_greedy_grants() -> None:
    live = _candidates([("a", "p", "sms", 1, 9), ("a", "q", "sms", 1, 12), ("b", "q", "sms", 2, 3)])
    greedy, optimal, prices = _both(live, _budgets(p=100, q=100), {"sms": np.inf})
    chosen = [set(f.loc[f["granted"], ["subscriber_id", "policy_id"]].itertuples(index=False))
              for f in (greedy, optimal)]  # fmt: skip
    assert chosen[0] == chosen[1] == {("a", "q"), ("b", "q")} and prices == {}


@pytest.mark.parametrize("seed", range(8))
def test_random_days_stay_within_every_limit_and_never_lose_to_greedy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    live = _candidates(
        list(
            zip(
                [f"s{i}" for i in rng.integers(0, 150, n)],
                rng.choice(["p", "q", "r"], n),
                rng.choice(["outbound_call", "sms", "store"], n),
                rng.choice([5.0, 20.0, 60.0, 200.0], n),
                rng.gamma(2.0, 20.0, n),
                strict=True,
            )
        )
    ).drop_duplicates(["subscriber_id", "policy_id", "channel"])
    budgets = _budgets(p=800, q=1500, r=np.inf).assign(count=[np.inf, 40, 30])
    capacity = {"outbound_call": 25.0, "sms": 60.0, "store": np.inf}
    greedy, optimal, _ = _both(live, budgets, capacity)
    granted = optimal[optimal["granted"]]
    assert granted["subscriber_id"].is_unique
    spent = granted.groupby("policy_id")["offer_cost"].sum()
    assert spent.get("p", 0) <= 800 and spent.get("q", 0) <= 1500
    counts = granted.groupby("policy_id").size()
    assert counts.get("q", 0) <= 40 and counts.get("r", 0) <= 30
    per_channel = granted.groupby("channel").size()
    assert per_channel.get("outbound_call", 0) <= 25 and per_channel.get("sms", 0) <= 60
    assert _granted_value(optimal) >= _granted_value(greedy) - 1e-6
