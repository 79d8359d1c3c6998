"""Population stability index: stable data stays below 0.2, moved data goes above it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from weiwan.analytics.churn.drift import WARN_ABOVE, drift, psi, reference


def _frame(
    rng: np.random.Generator, n: int, shift: float = 0.0, fiber: float = 0.3
) -> pd.DataFrame:
    arpu = rng.lognormal(4 + shift, 0.5, n)
    arpu[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "arpu_1m": arpu,
            "internet": np.where(rng.random(n) < fiber, "fiber", "dsl"),
            "is_prepaid": rng.random(n) < 0.4,
        }
    )


def test_psi_by_hand() -> None:
    assert psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0
    expected = (0.7 - 0.5) * np.log(0.7 / 0.5) + (0.3 - 0.5) * np.log(0.3 / 0.5)
    assert psi(np.array([0.5, 0.5]), np.array([0.7, 0.3])) == pytest.approx(expected)


def test_same_population_is_stable_and_a_moved_one_warns() -> None:
    rng = np.random.default_rng(1)
    train = _frame(rng, 20_000)
    scores = rng.random(20_000)
    ref = reference(train, scores)
    same = drift(ref, _frame(rng, 20_000), rng.random(20_000)).set_index("feature")
    assert (same.psi < 0.02).all() and not same.warning.any()
    moved = drift(ref, _frame(rng, 20_000, shift=0.6, fiber=0.8), rng.random(20_000) ** 3)
    moved = moved.set_index("feature")
    assert moved.loc["arpu_1m", "psi"] > WARN_ABOVE and moved.loc["arpu_1m", "warning"]
    assert moved.loc["internet", "psi"] > WARN_ABOVE
    assert moved.loc["score", "psi"] > WARN_ABOVE
    assert moved.loc["is_prepaid", "psi"] < 0.02


def test_unseen_levels_count_as_other() -> None:
    rng = np.random.default_rng(2)
    train = _frame(rng, 5_000)
    ref = reference(train, rng.random(5_000))
    today = train.assign(internet="5g")
    moved = drift(ref, today, rng.random(5_000)).set_index("feature")
    assert moved.loc["internet", "psi"] > 1
