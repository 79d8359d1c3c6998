"""Uplift learned from treated vs held-out outcomes recovers a known effect."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from weiwan.analytics.uplift import learn_uplift


def _outcomes(n: int, effects: dict[str, float], seed: int = 0) -> pd.DataFrame:
    """Random assignment; an offer cuts the churn probability by its effect."""
    rng = np.random.default_rng(seed)
    parts = []
    for offer, effect in effects.items():
        x = rng.normal(size=n)
        segment = rng.choice(["a", "b"], n)
        base = 1 / (1 + np.exp(-(-2.5 + 0.8 * x + 0.5 * (segment == "a"))))
        treated = rng.random(n) < 0.5
        p = np.where(treated, base * (1 - effect), base)
        parts.append(
            pd.DataFrame(
                {
                    "offer_type": offer,
                    "treated": treated,
                    "churned": rng.random(n) < p,
                    "x": x,
                    "segment": segment,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def test_two_model_estimator_recovers_the_effects() -> None:
    outcomes = _outcomes(20_000, {"discount": 0.5, "bonus_data": 0.0, "care_call": 0.25})
    learned = learn_uplift(outcomes, ["x", "segment"])
    assert learned["discount"].uplift == pytest.approx(0.5, abs=0.08)
    assert learned["bonus_data"].uplift == pytest.approx(0.0, abs=0.08)
    assert learned["care_call"].uplift == pytest.approx(0.25, abs=0.08)
    assert learned["discount"].churn_treated < learned["discount"].churn_held_out


def test_too_little_evidence_keeps_the_prior() -> None:
    outcomes = _outcomes(300, {"discount": 0.5})  # ~150 per arm
    assert learn_uplift(outcomes, ["x", "segment"]) == {}
    few = _outcomes(2_000, {"discount": 0.5})
    assert "discount" in learn_uplift(few, ["x", "segment"])
    assert learn_uplift(few, ["x", "segment"], min_churners=10_000) == {}
