"""Benchmark: the day's arbitration, optimal (LP, HiGHS) against greedy, at 1 M subscribers.

Target (issue: decision quality, part 4): the optimal allocation with its shadow prices in
≤ 60 s for 1 M subscribers on 2 cores. The arbitration sees only the candidates that could be
granted (positive expected value within the value cap); this builds such a day synthetically
and reproducibly: ``--subscribers`` × ``--share`` subscribers with candidates, each with
``--offers`` (policy, channel) candidates drawn from 10 policies over 4 channels, expected
values and costs spread like the decisions' (log-normal), count and money budgets and channel
capacities set to bind (a fraction ``--tightness`` of what the candidates would use).

Prints, median of ``--repeat``: the LP solve with its shadow-price re-solves, the greedy pass in
the LP's order, and the greedy pass alone; the expected value granted by each (the optimal
must not be below greedy), the number of binding limits and their prices.

    python bench/bench_allocation.py [--subscribers 1000000] [--share 0.1] [--offers 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas as pd

from weiwan.analytics.decide.allocation import Allocation, solve_allocation
from weiwan.analytics.decide.arbitration import arbitrate

TARGET_SECONDS = 60.0
CHANNELS = ("outbound_call", "sms", "store", "hotline")
T = TypeVar("T")


def candidates(subscribers: int, share: float, offers: int, seed: int) -> pd.DataFrame:
    """The day's grantable candidates: ``offers`` per subscriber with one."""
    rng = np.random.default_rng(seed)
    people = rng.choice(subscribers, int(subscribers * share), replace=False)
    n = len(people) * offers
    policy = rng.integers(0, 10, n)
    cost = np.round(np.exp(rng.normal(3.5, 0.8, n)) + 5 * policy, 0)
    value = np.exp(rng.normal(3.0, 1.2, n)) * (0.5 + rng.random(n))
    return pd.DataFrame(
        {
            "subscriber_id": np.repeat([f"U{p:09d}" for p in people], offers),
            "policy_id": [f"P{p:02d}" for p in policy],
            "channel": np.array(CHANNELS)[rng.integers(0, len(CHANNELS), n)],
            "offer_cost": cost,
            "cost": cost + 3.0,
            "expected_value": value,
            "value_cap_room": np.inf,
        }
    )


def limits(
    day: pd.DataFrame, tightness: float
) -> tuple[pd.DataFrame, dict[str, float], dict[str, int | None]]:
    """Budgets and capacities at ``tightness`` × what the best candidate of each subscriber
    would use (so that they bind)."""
    best = day.sort_values("expected_value", ascending=False).drop_duplicates("subscriber_id")
    use = best.groupby("policy_id").agg(count=("cost", "size"), money=("cost", "sum"))
    budgets = pd.DataFrame(
        {
            "policy_id": use.index,
            "count": np.floor(use["count"].to_numpy() * tightness),
            "money": np.floor(use["money"].to_numpy() * tightness * 1.1),
        }
    )
    per_channel = best.groupby("channel").size()
    capacity = {c: float(np.floor(per_channel.get(c, 0) * tightness * 1.2)) for c in CHANNELS}
    return budgets, capacity, {c: int(v) for c, v in capacity.items()}


def _timed(fn: Callable[[], T], repeat: int) -> tuple[T, float]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    assert result is not None
    return result, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--share", type=float, default=0.1)
    parser.add_argument("--offers", type=int, default=3)
    parser.add_argument("--tightness", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    day = candidates(args.subscribers, args.share, args.offers, args.seed)
    budgets, capacity, left = limits(day, args.tightness)
    print(
        f"{args.subscribers:,} subscribers, {day['subscriber_id'].nunique():,} with candidates, "
        f"{len(day):,} candidates, {len(budgets)} policy budgets, {len(capacity)} channels"
    )
    solved, lp_seconds = _timed(lambda: solve_allocation(day, budgets, capacity), args.repeat)
    assert isinstance(solved, Allocation)
    optimal, order_seconds = _timed(
        lambda: arbitrate(day, budgets, left, order=solved.share), args.repeat
    )
    greedy, greedy_seconds = _timed(lambda: arbitrate(day, budgets, left), args.repeat)
    value = {
        name: float(frame.loc[frame["granted"], "expected_value"].sum())
        for name, frame in (("optimal", optimal), ("greedy", greedy))
    }
    total = lp_seconds + order_seconds
    print(f"LP + shadow prices  {lp_seconds:8.1f} s  ({len(solved.shadow_prices)} binding limits)")
    print(f"grant in LP order   {order_seconds:8.1f} s")
    print(f"greedy alone        {greedy_seconds:8.1f} s")
    print(
        f"expected value granted: optimal {value['optimal']:,.0f}, greedy {value['greedy']:,.0f} "
        f"({value['optimal'] / value['greedy'] - 1:+.2%})"
    )
    for (kind, name), price in sorted(solved.shadow_prices.items()):
        print(f"  shadow price {kind:<13} {name:<14} {price:10.2f} yuan")
    verdict = "PASS" if total <= TARGET_SECONDS else "FAIL"
    print(f"{verdict}  optimal allocation {total:.1f} s ≤ {TARGET_SECONDS:.0f} s")


if __name__ == "__main__":
    main()
