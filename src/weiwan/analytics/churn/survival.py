"""Expected remaining tenure (预期剩余在网时长) from a survival model of the operator's history.

The model is a Weibull accelerated-failure-time model (lifelines ``WeibullAFTFitter``), not Cox
PH: its survival curve S(t | x) = exp(−(t / λ(x))^ρ) is defined at every t, so the expected
remaining tenure up to a 60-month horizon stays meaningful beyond the longest duration seen in
a short history (a Cox baseline stops there), and prediction is plain numpy over the fitted
coefficients. The remaining tenure of a subscriber already on the network for t₀ months is
the conditional expectation E[min(T − t₀, H) | T > t₀] = ∫₀^H S(t₀ + u) / S(t₀) du.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
from scipy import special

from weiwan.analytics.warehouse import BatchFn, Store

DAYS_PER_MONTH = 30.4375
MIN_DURATION_MONTHS = 1 / DAYS_PER_MONTH  # a churn on the join day still lasted a day
#: (t₀ / λ)^ρ from which Q(1/ρ, ·) nears the smallest double: the asymptotic series takes over
_ASYMPTOTIC_FROM_X = 500.0

FloatArray = npt.NDArray[np.float64]


def survival_history(
    subscribers: ir.Table,
    churn_records: ir.Table,
    snapshot: date,
    *,
    observed_from: date | None = None,
) -> ir.Table:
    """Training rows (subscriber_id, duration_months, churned, entry_months, covariates).

    Uses only what was known at ``snapshot``: subscribers who joined by then, churns dated on
    or before it (a later churn is censored at the snapshot). ``observed_from`` is the start of
    the churn history; subscribers who joined before it enter the risk set late
    (``entry_months``) and those who left before it are dropped, so a short history does not
    overstate survival. Covariates come from the subscriber record: ``is_prepaid`` and
    ``plan_monthly_fee``.
    """
    snap = ibis.literal(snapshot)
    churns = churn_records.filter(churn_records.churn_date <= snap)
    first = churns.group_by("subscriber_id").aggregate(churn_date=churns.churn_date.min())
    subs = subscribers.filter(subscribers.join_date <= snap)
    joined = subs.left_join(first, "subscriber_id")
    if observed_from is not None:
        joined = joined.filter(
            joined.churn_date.isnull() | (joined.churn_date >= ibis.literal(observed_from))
        )
    end = joined.churn_date.fill_null(snap)
    entry = (
        (ibis.literal(observed_from).delta(joined.join_date, unit="day") / DAYS_PER_MONTH).clip(
            lower=0
        )
        if observed_from is not None
        else ibis.literal(0.0)
    )
    return joined.select(
        "subscriber_id",
        duration_months=(end.delta(joined.join_date, unit="day") / DAYS_PER_MONTH).cast("float64"),
        churned=joined.churn_date.notnull(),
        entry_months=entry.cast("float64"),
        is_prepaid=joined.payment_type == "prepaid",
        plan_monthly_fee=joined.plan_monthly_fee.cast("float64"),
    )


def _frame(data: pa.Table | pd.DataFrame) -> pd.DataFrame:
    return data.to_pandas() if isinstance(data, pa.Table) else data


def _tenure(frame: pd.DataFrame, column: str) -> FloatArray:
    tenure: FloatArray = (
        pd.to_numeric(frame[column].astype("float64"), errors="coerce")
        .fillna(0.0)
        .clip(lower=0.0)
        .to_numpy(dtype="float64")
    )
    return tenure


@dataclass
class SurvivalModel:
    """A fitted Weibull AFT model: log λ(x) = intercept + β·x, shape ρ."""

    covariates: list[str]
    horizon_months: float
    intercept_: float
    coefficients_: FloatArray
    rho_: float
    fill_values_: dict[str, float]
    dropped_covariates_: list[str] = field(default_factory=list)
    n_train_: int = 0

    def _design(self, frame: pd.DataFrame) -> FloatArray:
        if not self.covariates:
            return np.zeros((len(frame), 0))
        columns = [
            pd.to_numeric(frame[c].astype("float64"), errors="coerce")
            .fillna(self.fill_values_[c])
            .to_numpy(dtype="float64")
            for c in self.covariates
        ]
        return np.column_stack(columns)

    def scale_months(self, data: pa.Table | pd.DataFrame) -> FloatArray:
        """λ(x) of each row: the Weibull scale in months."""
        frame = _frame(data)
        scale: FloatArray = np.exp(self.intercept_ + self._design(frame) @ self.coefficients_)
        return scale

    def expected_remaining_months(
        self, data: pa.Table | pd.DataFrame, *, tenure_col: str = "tenure_months"
    ) -> FloatArray:
        """E[min(T − t₀, horizon) | T > t₀] per row, with t₀ the row's current tenure.

        In closed form: with x = (t / λ)^ρ, ∫ S from t₀ to t₀ + H is λ Γ(1 + 1/ρ) (Q(1/ρ, x₀) −
        Q(1/ρ, x₁)) with Q the regularised upper incomplete gamma function, divided by S(t₀) =
        e^(−x₀) (20-40× faster than integrating on a grid, and exact). Where Q(1/ρ, x₀) comes
        near underflow (a tenure far beyond the scale) the asymptotic series of Γ(a, x) e^x
        takes over.
        """
        frame = _frame(data)
        scale = self.scale_months(frame)
        tenure = _tenure(frame, tenure_col)
        shape = 1.0 / self.rho_
        x0 = (tenure / scale) ** self.rho_
        x1 = ((tenure + self.horizon_months) / scale) ** self.rho_
        far = x0 >= _ASYMPTOTIC_FROM_X
        near = ~far
        out = np.empty(len(frame), dtype="float64")
        out[near] = (
            scale[near]
            * special.gamma(1.0 + shape)
            * (special.gammaincc(shape, x0[near]) - special.gammaincc(shape, x1[near]))
            * np.exp(x0[near])
        )
        tail_0 = _upper_gamma_times_exp(shape, x0[far])
        tail_1 = _upper_gamma_times_exp(shape, x1[far]) * np.exp(x0[far] - x1[far])
        out[far] = scale[far] * shape * (tail_0 - tail_1)
        result: FloatArray = np.clip(out, 0.0, self.horizon_months)
        return result

    def leave_probability(
        self, data: pa.Table | pd.DataFrame, months: float, *, tenure_col: str = "tenure_months"
    ) -> FloatArray:
        """P(T ≤ t₀ + months | T > t₀) per row: leaving within ``months`` from today."""
        frame = _frame(data)
        scale = self.scale_months(frame)
        t0 = _tenure(frame, tenure_col)
        log_ratio = (t0 / scale) ** self.rho_ - ((t0 + months) / scale) ** self.rho_
        result: FloatArray = -np.expm1(log_ratio)
        return result


def _upper_gamma_times_exp(a: float, x: FloatArray, terms: int = 6) -> FloatArray:
    """Γ(a, x) eˣ for large x by its asymptotic series x^(a−1) Σ (a−1)⋯(a−k) / xᵏ; from
    x = 500 six terms are exact to double precision."""
    total = np.ones_like(x)
    term = np.ones_like(x)
    for k in range(1, terms):
        term = term * (a - k) / x
        total = total + term
    result: FloatArray = x ** (a - 1.0) * total
    return result


def fit_survival(
    history: pa.Table | pd.DataFrame,
    covariates: list[str],
    *,
    duration_col: str = "duration_months",
    event_col: str = "churned",
    entry_col: str | None = None,
    horizon_months: float = 60.0,
    max_rows: int = 200_000,
    seed: int = 0,
) -> SurvivalModel:
    """Fit a Weibull AFT model on at most ``max_rows`` sampled rows of ``history``.

    Boolean covariates become 0/1; missing values take the training median; a covariate that
    does not vary in the sample is dropped (``dropped_covariates_``). ``entry_col`` gives
    delayed entry (left truncation), e.g. ``entry_months`` from :func:`survival_history`.
    """
    from lifelines import WeibullAFTFitter

    frame = _frame(history)
    if len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=seed)
    data = pd.DataFrame(
        {
            "duration": frame[duration_col].astype("float64").clip(lower=MIN_DURATION_MONTHS),
            "event": frame[event_col].astype("bool").astype("int64"),
        }
    )
    if entry_col is not None:
        # lifelines needs entry < duration
        data["entry"] = frame[entry_col].astype("float64").clip(0.0, data["duration"] * 0.999)
    kept, dropped, fills = [], [], {}
    for name in covariates:
        values = pd.to_numeric(frame[name].astype("float64"), errors="coerce")
        fills[name] = float(values.median()) if values.notna().any() else 0.0
        values = values.fillna(fills[name])
        if values.nunique() < 2:
            dropped.append(name)
            continue
        kept.append(name)
        data[name] = values.to_numpy()
    fitter = WeibullAFTFitter()
    fitter.fit(data, "duration", "event", entry_col="entry" if entry_col else None)
    params = fitter.params_
    return SurvivalModel(
        covariates=kept,
        horizon_months=float(horizon_months),
        intercept_=float(params[("lambda_", "Intercept")]),
        coefficients_=np.array([float(params[("lambda_", c)]) for c in kept], dtype="float64"),
        rho_=float(np.exp(params[("rho_", "Intercept")])),
        fill_values_={c: fills[c] for c in kept},
        dropped_covariates_=dropped,
        n_train_=len(data),
    )


LEAVE_WITHIN_MONTHS = (3, 6)


#: the rows expected_months_table gives
EXPECTED_SCHEMA = pa.schema(
    [
        ("subscriber_id", pa.string()),
        ("expected_remaining_months", pa.float64()),
        *[(f"p_leave_{months}m", pa.float64()) for months in LEAVE_WITHIN_MONTHS],
    ]
)


def expected_months_batch(model: SurvivalModel) -> BatchFn:
    """Feature rows in, (subscriber_id, expected_remaining_months, p_leave_3m, p_leave_6m)
    out: each row on its own, so batches give what the whole table would."""

    def apply(batch: pa.RecordBatch) -> pa.RecordBatch:
        frame = batch.to_pandas()
        columns = [
            pa.array(frame["subscriber_id"].astype(str), pa.string()),
            pa.array(model.expected_remaining_months(frame), pa.float64()),
            *[
                pa.array(model.leave_probability(frame, months), pa.float64())
                for months in LEAVE_WITHIN_MONTHS
            ],
        ]
        return pa.RecordBatch.from_arrays(columns, schema=EXPECTED_SCHEMA)

    return apply


def expected_months_table(
    store: Store, model: SurvivalModel, features: ir.Table, *, batch_rows: int = 100_000
) -> ir.Table:
    """(subscriber_id, expected_remaining_months, p_leave_3m, p_leave_6m) per feature row,
    computed ``batch_rows`` at a time in ``store``."""
    rows = features.select("subscriber_id", "tenure_months", *model.covariates)
    return store.map_batches(
        rows, expected_months_batch(model), EXPECTED_SCHEMA, batch_rows=batch_rows
    )
