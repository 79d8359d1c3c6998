"""Survival model (expected remaining tenure), its training history, and CLV on DuckDB."""

from __future__ import annotations

import math
from datetime import date

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy.integrate import quad

from weiwan.analytics.churn.clv import (
    QUADRANTS_BY_ID,
    ClvConfig,
    compute_clv,
    historic_margin,
)
from weiwan.analytics.churn.survival import (
    DAYS_PER_MONTH,
    SurvivalModel,
    expected_months_table,
    fit_survival,
    survival_history,
)
from weiwan.analytics.warehouse import Warehouse

SNAPSHOT = date(2026, 6, 30)
PREPAID_MEAN, POSTPAID_MEAN, HORIZON = 10.0, 40.0, 60.0


def _truncated_exponential(mean: float, horizon: float) -> float:
    return mean * (1 - math.exp(-horizon / mean))


@pytest.fixture(scope="module")
def exponential_history() -> pd.DataFrame:
    """Prepaid churn at hazard 1/10 a month, postpaid at 1/40, censored uniformly."""
    rng = np.random.default_rng(7)
    n = 20_000
    prepaid = rng.random(n) < 0.5
    churn_time = rng.exponential(np.where(prepaid, PREPAID_MEAN, POSTPAID_MEAN))
    censor = rng.uniform(1, 72, n)
    return pd.DataFrame(
        {
            "duration_months": np.minimum(churn_time, censor),
            "churned": churn_time <= censor,
            "is_prepaid": prepaid,
            "plan_monthly_fee": rng.uniform(20, 200, n),
            "constant": 1.0,
        }
    )


def test_prepaid_expects_less_and_matches_exponential(exponential_history: pd.DataFrame) -> None:
    model = fit_survival(
        exponential_history, ["is_prepaid", "plan_monthly_fee", "constant"], max_rows=15_000
    )
    assert model.n_train_ == 15_000
    assert model.dropped_covariates_ == ["constant"]
    assert model.rho_ == pytest.approx(1.0, abs=0.05)
    # Memoryless: the expectation does not depend on the tenure already served.
    frame = pa.table(
        {
            "is_prepaid": [True, False, True, False],
            "plan_monthly_fee": [100.0, 100.0, None, None],
            "tenure_months": [0, 0, 30, 30],
        }
    )
    months = model.expected_remaining_months(frame)
    prepaid = _truncated_exponential(PREPAID_MEAN, HORIZON)
    postpaid = _truncated_exponential(POSTPAID_MEAN, HORIZON)
    assert months[0] < months[1]
    assert months[0] == pytest.approx(prepaid, rel=0.08)
    assert months[1] == pytest.approx(postpaid, rel=0.08)
    assert months[2] == pytest.approx(months[0], rel=0.05)
    assert months[3] == pytest.approx(months[1], rel=0.05)
    # P(leave within m months) = 1 - exp(-m / mean), whatever the tenure.
    for within in (3, 6):
        leave = model.leave_probability(frame, within)
        assert leave[0] == pytest.approx(1 - math.exp(-within / PREPAID_MEAN), rel=0.08)
        assert leave[1] == pytest.approx(1 - math.exp(-within / POSTPAID_MEAN), rel=0.08)
        assert leave[2] == pytest.approx(leave[0], rel=0.05)


def test_conditional_remaining_is_bounded_and_handles_extremes() -> None:
    rng = np.random.default_rng(1)
    n = 5_000
    # Wear-out (rho > 1): hazard rises with tenure, so long-tenure subscribers expect less.
    times = 20 * rng.weibull(3.0, n)
    model = fit_survival(
        pd.DataFrame({"duration_months": times, "churned": True}), [], horizon_months=HORIZON
    )
    assert model.rho_ > 2
    tenure = np.array([0, 5, 20, 40, 400, 10_000], dtype="float64")
    months = model.expected_remaining_months(pd.DataFrame({"tenure_months": tenure}))
    assert np.all(np.isfinite(months))
    assert np.all(months >= 0) and np.all(months <= HORIZON)
    assert np.all(np.diff(months) <= 1e-9)


def test_survival_history_uses_only_data_up_to_snapshot() -> None:
    subscribers = ibis.memtable(
        {
            "subscriber_id": ["early", "late_churn", "stayer", "future_join", "old_leaver"],
            "join_date": [
                date(2026, 1, 1),
                date(2026, 1, 1),
                date(2025, 6, 30),
                date(2026, 7, 15),
                date(2020, 1, 1),
            ],
            "payment_type": ["prepaid", "postpaid", "postpaid", "prepaid", "prepaid"],
            "plan_monthly_fee": [38.0, 128.0, 58.0, 18.0, 18.0],
        }
    )
    churn = ibis.memtable(
        {
            "subscriber_id": ["early", "early", "late_churn", "old_leaver"],
            "churn_date": [date(2026, 3, 2), date(2026, 8, 1), date(2026, 7, 1), date(2021, 1, 1)],
        }
    )
    con = ibis.duckdb.connect()
    rows = {
        r["subscriber_id"]: r
        for r in con.to_pyarrow(survival_history(subscribers, churn, SNAPSHOT)).to_pylist()
    }
    assert set(rows) == {"early", "late_churn", "stayer", "old_leaver"}
    assert rows["early"]["churned"] is True
    assert rows["early"]["duration_months"] == pytest.approx(60 / DAYS_PER_MONTH)
    assert rows["late_churn"]["churned"] is False
    assert rows["late_churn"]["duration_months"] == pytest.approx(180 / DAYS_PER_MONTH)
    assert rows["stayer"]["duration_months"] == pytest.approx(365 / DAYS_PER_MONTH)
    assert rows["early"]["is_prepaid"] is True
    assert rows["stayer"]["entry_months"] == 0.0

    observed = {
        r["subscriber_id"]: r
        for r in con.to_pyarrow(
            survival_history(subscribers, churn, SNAPSHOT, observed_from=date(2026, 1, 1))
        ).to_pylist()
    }
    assert "old_leaver" not in observed
    assert observed["stayer"]["entry_months"] == pytest.approx(185 / DAYS_PER_MONTH)
    assert observed["early"]["entry_months"] == 0.0


def test_expected_months_table_predicts_the_whole_feature_table(
    exponential_history: pd.DataFrame, warehouse: Warehouse
) -> None:
    model = fit_survival(exponential_history, ["is_prepaid"], max_rows=5_000)
    features = ibis.memtable(
        {"subscriber_id": ["a", "b"], "tenure_months": [3, 40], "is_prepaid": [True, False]}
    )
    table = expected_months_table(warehouse, model, features)
    out = sorted(table.to_pyarrow().to_pylist(), key=lambda r: r["subscriber_id"])
    assert [r["subscriber_id"] for r in out] == ["a", "b"]
    assert out[0]["expected_remaining_months"] < out[1]["expected_remaining_months"]
    for row in out:
        assert 0 < row["p_leave_3m"] < row["p_leave_6m"] < 1
    assert out[0]["p_leave_3m"] > out[1]["p_leave_3m"]  # prepaid leaves sooner


def test_expected_months_in_batches_of_one_equal_one_batch(
    exponential_history: pd.DataFrame, warehouse: Warehouse
) -> None:
    model = fit_survival(exponential_history, ["is_prepaid"], max_rows=5_000)
    rng = np.random.default_rng(1)
    features = ibis.memtable(
        {
            "subscriber_id": [f"s{i:03d}" for i in range(40)],
            "tenure_months": rng.integers(0, 80, 40).tolist(),
            "is_prepaid": rng.random(40).round().astype(bool).tolist(),
        }
    )

    def rows(batch_rows: int) -> list[dict[str, object]]:
        table = expected_months_table(warehouse, model, features, batch_rows=batch_rows)
        return sorted(table.to_pyarrow().to_pylist(), key=lambda r: str(r["subscriber_id"]))

    assert rows(1) == rows(1000)
    assert len(rows(1)) == 40


def test_historic_margin_counts_closed_months_only() -> None:
    usage = ibis.memtable(
        {
            "subscriber_id": ["a", "a", "a", "b"],
            "bill_month": [date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1), date(2026, 5, 1)],
            "bill_amount": [100.0, 50.0, 1000.0, None],
        }
    )
    out = ibis.duckdb.connect().to_pyarrow(historic_margin(usage, date(2026, 6, 15), 0.6))
    got = dict(
        zip(out["subscriber_id"].to_pylist(), out["margin_to_date"].to_pylist(), strict=True)
    )
    assert got == pytest.approx({"a": 90.0, "b": 0.0})


def _clv(config: ClvConfig) -> dict[str, dict[str, object]]:
    features = ibis.memtable(
        pa.table(
            {
                "subscriber_id": ["hh", "lh", "hl", "ll", "nomodel"],
                "snapshot_date": [SNAPSHOT] * 5,
                "bill_mean_3m": [100.0, 100.0, 10.0, 10.0, None],
                "arpu_1m": [0.0, 0.0, 0.0, 0.0, 40.0],
            }
        )
    )
    margin = ibis.memtable(
        {"subscriber_id": ["hh", "hl", "lh"], "margin_to_date": [900.0, 800.0, 5]}
    )
    months = ibis.memtable(
        {
            "subscriber_id": ["hh", "lh", "hl", "ll"],
            "expected_remaining_months": [12.0, 99.0, 1.0, 0.5],
            "p_leave_3m": [0.1, 0.01, 0.8, 0.9],
            "p_leave_6m": [0.2, 0.02, 0.95, 0.99],
        }
    )
    out = ibis.duckdb.connect().to_pyarrow(compute_clv(features, margin, months, config))
    return {r["subscriber_id"]: r for r in out.to_pylist()}


def test_clv_discounting_by_hand() -> None:
    config = ClvConfig(margin_rate=0.5, annual_discount_rate=0.12, horizon_months=60)
    out = _clv(config)
    r = 1.12 ** (1 / 12) - 1
    # 12 monthly payments of 100 × 0.5, paid at each month end, discounted at r a month.
    by_sum = sum(50 / (1 + r) ** k for k in range(1, 13))
    assert out["hh"]["future_value"] == pytest.approx(by_sum)
    assert out["hh"]["future_value"] == pytest.approx(50 * (1 - (1 + r) ** -12) / r)
    assert out["lh"]["expected_remaining_months"] == 60.0  # capped at the horizon
    assert out["lh"]["future_value"] == pytest.approx(sum(50 / (1 + r) ** k for k in range(1, 61)))
    assert out["hl"]["historic_value"] == 800.0
    assert out["ll"]["historic_value"] == 0.0
    assert out["nomodel"]["future_value"] is None
    assert out["nomodel"]["clv_quadrant"] is None
    assert out["hl"]["p_leave_3m"] == 0.8 and out["nomodel"]["p_leave_6m"] is None


def test_clv_without_discounting_is_plain_product() -> None:
    out = _clv(ClvConfig(margin_rate=0.6, annual_discount_rate=0.0))
    assert out["hh"]["future_value"] == pytest.approx(100 * 0.6 * 12)


def test_clv_quadrants() -> None:
    out = _clv(ClvConfig())
    # historic: hh 900, hl 800, lh 5, ll 0, nomodel 0 → median 5, high = strictly above.
    # future (non-NULL): hh and lh high, hl and ll low.
    assert out["hh"]["clv_quadrant"] == "retain_with_added_value"
    assert out["lh"]["clv_quadrant"] == "cultivate"
    assert out["hl"]["clv_quadrant"] == "maintain_no_overspend"
    assert out["ll"]["clv_quadrant"] == "make_profitable_or_release"
    quadrant = QUADRANTS_BY_ID["cultivate"]
    assert quadrant.name_zh == "培养" and quadrant.treatment_en


@pytest.mark.parametrize("rho", [0.5, 1.0, 1.07, 3.0])
def test_expected_remaining_months_is_the_integral_of_survival(rho: float) -> None:
    """The closed form (incomplete gamma) equals ∫ S(t₀ + u) / S(t₀) du integrated finely, near
    and far beyond the scale (where an asymptotic series takes over)."""
    model = SurvivalModel(
        covariates=[],
        horizon_months=HORIZON,
        intercept_=math.log(30.0),
        coefficients_=np.zeros(0),
        rho_=rho,
        fill_values_={},
    )
    tenure = np.array([0.0, 0.5, 3.0, 12.0, 30.0, 90.0, 240.0, 900.0, 5_000.0])
    months = model.expected_remaining_months(pd.DataFrame({"tenure_months": tenure}))
    x0 = (tenure / 30.0) ** rho
    # integrated where the integrand lives: far beyond the scale it decays within 1 / hazard
    hazard = np.where(tenure > 0, rho * x0 / np.maximum(tenure, 1e-9), 0.0)
    ends = np.where(hazard > 0, np.minimum(HORIZON, 60.0 / np.maximum(hazard, 1e-9)), HORIZON)
    exact = [
        quad(lambda u, t=t, x=x: math.exp(x - ((t + u) / 30.0) ** rho), 0.0, end, limit=200)[0]
        for t, x, end in zip(tenure, x0, ends, strict=True)
    ]
    np.testing.assert_allclose(months, exact, rtol=1e-6, atol=1e-9)
    assert (x0 >= 500).any() == (rho == 3.0)  # the far rows are exercised once
