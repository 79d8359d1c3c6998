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


def _psis(table: pd.DataFrame) -> dict[str, float]:
    return {str(f): float(v) for f, v in zip(table["feature"], table["psi"], strict=True)}


def test_psi_by_hand() -> None:
    assert psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0
    expected = (0.7 - 0.5) * np.log(0.7 / 0.5) + (0.3 - 0.5) * np.log(0.3 / 0.5)
    assert psi(np.array([0.5, 0.5]), np.array([0.7, 0.3])) == pytest.approx(expected)


def test_same_population_is_stable_and_a_moved_one_warns() -> None:
    rng = np.random.default_rng(1)
    train = _frame(rng, 20_000)
    scores = rng.random(20_000)
    ref = reference(train, scores)
    same = drift(ref, _frame(rng, 20_000), rng.random(20_000))
    assert max(_psis(same).values()) < 0.02 and not same["warning"].any()
    table = drift(ref, _frame(rng, 20_000, shift=0.6, fiber=0.8), rng.random(20_000) ** 3)
    moved = _psis(table)
    assert moved["arpu_1m"] > WARN_ABOVE and moved["internet"] > WARN_ABOVE
    assert moved["score"] > WARN_ABOVE and moved["is_prepaid"] < 0.02
    assert set(table.loc[table["warning"], "feature"]) == {"arpu_1m", "internet", "score"}


def test_unseen_levels_count_as_other() -> None:
    rng = np.random.default_rng(2)
    train = _frame(rng, 5_000)
    ref = reference(train, rng.random(5_000))
    today = train.assign(internet="5g")
    assert _psis(drift(ref, today, rng.random(5_000)))["internet"] > 1
