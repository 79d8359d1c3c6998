"""Optimal allocation: one action per subscriber under the policies' budgets (count and money)
and the channels' daily capacity is an assignment problem with a few side constraints, solved
as a linear programme (HiGHS through ``scipy.optimize.linprog``).

The relaxation's optimum has at most as many fractional subscribers as there are binding side
constraints (a vertex of the assignment polytope cut by k constraints), so granting in the order
of the solution's values — what the greedy arbitration does with that order instead of the
expected value — loses at most k grants against the integer optimum. The shadow price of a
binding limit is what one more unit of it (an action, a yuan) would add to the day's expected
value, found by solving once more with that unit (logged by the daily run). When the solver
cannot answer (or the problem is too large for it) the greedy order stands.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import linprog
from scipy.sparse import csr_array, vstack

from weiwan.core.limit_kinds import CHANNEL_LIMIT, POLICY_COUNT_LIMIT, POLICY_MONEY_LIMIT
from weiwan.core.logging import get_logger

log = get_logger(__name__)

#: seconds the solver may take before the greedy order is kept
TIME_LIMIT = 60.0


#: the warehouse table of each day's shadow prices of the binding limits
LIMIT_PRICES = "limit_prices"


@dataclass
class Allocation:
    """The solver's order of the candidates and what each constraint is worth."""

    #: per candidate row (same index as the input), its value in the relaxation's optimum
    share: pd.Series
    #: shadow price (yuan of expected value) of one more unit of each binding limit:
    #: (POLICY_COUNT_LIMIT, id), (POLICY_MONEY_LIMIT, id) or (CHANNEL_LIMIT, name)
    shadow_prices: dict[tuple[str, str], float] = field(default_factory=dict)


def solve_allocation(
    live: pd.DataFrame,
    budgets: pd.DataFrame,
    capacity: dict[str, float],
) -> Allocation | None:
    """The LP relaxation over ``live`` candidates (subscriber_id, policy_id, channel,
    offer_cost, expected_value > 0); ``budgets``: policy_id → count, money left (NaN or inf:
    no limit); ``capacity``: channel → actions left (inf: none). None when the solver fails."""
    if len(live) == 0:
        return Allocation(pd.Series(dtype=float))
    problem = _Problem.of(live, budgets, capacity)
    solved = problem.solve(problem.bounds)
    if solved is None:
        return None
    share, objective, duals = solved
    binding = [k for k in range(len(problem.names)) if duals[k] > 1e-9]  # else worth nothing

    def one_more(k: int) -> float | None:
        # the dual of a degenerate vertex may be any value between the left and the right
        # derivative; what a manager asks is the right one, so the LP is solved once more
        # with one more unit (one action, or one yuan) of this limit
        wider = problem.bounds.copy()
        wider[problem.first_side + k] += 1.0
        again = problem.solve(wider)
        return None if again is None else again[1] - objective

    # HiGHS releases the GIL: the re-solves run side by side, one per core
    with ThreadPoolExecutor(max_workers=max(1, min(len(binding), os.cpu_count() or 1))) as pool:
        gains = list(pool.map(one_more, binding))
    prices = {
        problem.names[k]: gain
        for k, gain in zip(binding, gains, strict=True)
        if gain is not None and gain > 1e-9
    }
    return Allocation(pd.Series(share, index=live.index), prices)


@dataclass
class _Problem:
    """max EV · x subject to A x ≤ b, 0 ≤ x ≤ 1: one row per subscriber, then the side
    constraints (``names``) from row ``first_side``."""

    value: np.ndarray
    matrix: csr_array
    bounds: np.ndarray
    first_side: int
    names: list[tuple[str, str]]

    @classmethod
    def of(cls, live: pd.DataFrame, budgets: pd.DataFrame, capacity: dict[str, float]) -> _Problem:
        n = len(live)
        rows = np.arange(n)
        subscriber = pd.factorize(live["subscriber_id"])[0]
        people = int(subscriber.max()) + 1
        blocks = [csr_array((np.ones(n), (subscriber, rows)), shape=(people, n))]
        bounds = [np.ones(people)]
        names: list[tuple[str, str]] = []

        def side(mask: np.ndarray, weight: np.ndarray, bound: float, name: tuple[str, str]) -> None:
            if not np.isfinite(bound) or not mask.any():
                return
            row = np.zeros(int(mask.sum()), dtype=int)
            blocks.append(csr_array((weight[mask], (row, rows[mask])), shape=(1, n)))
            bounds.append(np.array([max(float(bound), 0.0)]))
            names.append(name)

        cost = live["offer_cost"].to_numpy(float)
        # budgets come with None where a policy has no limit (an object column): as numbers,
        # a missing limit is NaN, which ``side`` reads as no limit
        limits = budgets.assign(
            count=pd.to_numeric(budgets["count"], errors="coerce"),
            money=pd.to_numeric(budgets["money"], errors="coerce"),
        )
        for policy, count, money in limits[["policy_id", "count", "money"]].itertuples(index=False):
            mine = (live["policy_id"] == policy).to_numpy()
            side(mine, np.ones(n), float(count), (POLICY_COUNT_LIMIT, str(policy)))
            side(mine, cost, float(money), (POLICY_MONEY_LIMIT, str(policy)))
        for channel, bound in capacity.items():
            side(
                (live["channel"] == channel).to_numpy(), np.ones(n), bound, (CHANNEL_LIMIT, channel)
            )
        return cls(
            # a value that could not be estimated (NaN) weighs nothing: the LP leaves it to
            # the greedy pass, which ranks it last
            value=np.nan_to_num(live["expected_value"].to_numpy(float), nan=0.0, posinf=0.0),
            matrix=vstack(blocks, format="csr"),
            bounds=np.concatenate(bounds),
            first_side=people,
            names=names,
        )

    def solve(self, bounds: np.ndarray) -> tuple[np.ndarray, float, np.ndarray] | None:
        """(x, objective, the side constraints' duals ≥ 0), or None when HiGHS fails."""
        result = linprog(
            -self.value,
            A_ub=self.matrix,
            b_ub=bounds,
            bounds=(0.0, 1.0),
            method="highs-ipm",  # 6× faster than dual simplex on a day of 1 M (bench)
            options={"time_limit": TIME_LIMIT},
        )
        if result.status != 0:
            log.warning(
                "allocation.solver_failed", status=int(result.status), message=result.message
            )
            return None
        duals = -np.asarray(result.ineqlin.marginals)[self.first_side :]
        return np.asarray(result.x), float(-result.fun), duals
