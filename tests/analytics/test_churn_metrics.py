"""Churn metrics by hand on tiny arrays, and the expected maximum profit's known properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import betainc

from weiwan.analytics.churn.metrics import (
    calibration_table,
    evaluate,
    expected_maximum_profit,
    lift_table,
    top_decile_lift,
)


def test_evaluate_by_hand() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    result = evaluate(y, p)
    assert result["roc_auc"] == pytest.approx(0.75)  # 3 of the 4 churner/stayer pairs ordered
    # ranked: 0.8 (churner), 0.4, 0.35 (churner), 0.1 -> precision 1 at recall 1/2, 2/3 at 1
    assert result["pr_auc"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert result["brier"] == pytest.approx((0.1**2 + 0.4**2 + 0.65**2 + 0.2**2) / 4)
    # top decile of 4 customers is the riskiest one, a churner: rate 1 over base 0.5
    assert result["top_decile_lift"] == pytest.approx(2.0)


def test_top_decile_lift_counts_the_riskiest_tenth() -> None:
    y = np.array([1] + [0] * 8 + [1])
    p = np.linspace(1, 0, 10)
    assert top_decile_lift(y, p) == pytest.approx(1 / 0.2)


def test_lift_table_gain_and_lift_by_hand() -> None:
    y = np.array([1, 1, 0, 1, 0, 0, 0, 0, 0, 0])
    p = np.linspace(1, 0, 10)
    rows = lift_table(y, p, bins=5)
    assert [r["customers"] for r in rows] == [2.0] * 5
    assert rows[0]["lift"] == pytest.approx(1.0 / 0.3)
    assert rows[0]["gain"] == pytest.approx(2 / 3)
    assert rows[1]["gain"] == pytest.approx(1.0)
    assert rows[1]["cumulative_lift"] == pytest.approx(1.0 / 0.4)
    assert rows[-1]["share_contacted"] == pytest.approx(1.0)
    assert rows[-1]["cumulative_lift"] == pytest.approx(1.0)
    assert [r["gain"] for r in rows] == sorted(r["gain"] for r in rows)


def test_calibration_table_groups_by_predicted_probability() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(20_000)
    y = rng.random(20_000) < p  # calibrated by construction
    rows = calibration_table(y, p)
    assert sum(r["customers"] for r in rows) == 20_000
    assert [r["mean_predicted"] for r in rows] == sorted(r["mean_predicted"] for r in rows)
    for row in rows:
        assert row["observed_rate"] == pytest.approx(row["mean_predicted"], abs=0.03)


def test_emp_hand_case() -> None:
    # Two churners ranked first. Contacting both yields 2 * (gamma * (200 - 10) - 1) over 4
    # customers whenever gamma > 1/190, else nothing; with gamma ~ Beta(6, 14):
    y = np.array([1, 1, 0, 0])
    p = np.array([0.9, 0.8, 0.2, 0.1])
    emp, share = expected_maximum_profit(y, p)
    g = 1 / 190
    expected = 95 * 0.3 * (1 - betainc(7, 14, g)) - 0.5 * (1 - betainc(6, 14, g))
    assert emp == pytest.approx(expected, rel=1e-9)
    assert emp == pytest.approx(28.0, abs=1e-6)
    assert share == pytest.approx(0.5, abs=1e-6)


def test_emp_with_all_scores_tied_contacts_everyone_or_no_one() -> None:
    y = np.array([1, 1, 0, 0])
    emp, share = expected_maximum_profit(y, np.full(4, 0.5))
    g = 6 / 95  # break-even of 95 gamma - 6 (everyone: 2 churners, 2 non-churners at 11)
    expected = 95 * 0.3 * (1 - betainc(7, 14, g)) - 6 * (1 - betainc(6, 14, g))
    assert emp == pytest.approx(expected, rel=1e-9)
    assert share == pytest.approx(1 - betainc(6, 14, g), rel=1e-9)


def test_emp_per_customer_clv_equal_to_the_scalar() -> None:
    rng = np.random.default_rng(1)
    y = rng.random(500) < 0.2
    p = rng.random(500) + y * 0.5
    assert expected_maximum_profit(y, p, clv=np.full(500, 200.0)) == pytest.approx(
        expected_maximum_profit(y, p)
    )


def test_emp_perfect_model_beats_random() -> None:
    rng = np.random.default_rng(2)
    y = rng.random(5000) < 0.15
    perfect, perfect_share = expected_maximum_profit(y, y.astype(float))
    noisy, _ = expected_maximum_profit(y, y + rng.normal(0, 0.8, 5000))
    random, _ = expected_maximum_profit(y, rng.random(5000))
    assert perfect > noisy > random >= 0
    assert perfect_share == pytest.approx(y.mean(), abs=0.01)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.floats(0, 1)), min_size=1, max_size=60),
    st.floats(1, 1000),
)
def test_emp_is_never_negative_and_the_share_is_a_share(
    rows: list[tuple[bool, float]], clv: float
) -> None:
    y = np.array([r[0] for r in rows], dtype=float)
    p = np.array([r[1] for r in rows])
    emp, share = expected_maximum_profit(y, p, clv=clv)
    assert emp >= 0
    assert 0 <= share <= 1
    best_case = y.mean() * clv  # every churner kept at no cost
    assert emp <= best_case + 1e-9
