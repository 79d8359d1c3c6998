"""The operator's tenure model: a survival model fitted on its own history up to a snapshot.

Shared by the CLV step (expected remaining tenure, P(leave within 3 / 6 months)) and by the
evaluation report (concordance index on what happened after an earlier snapshot).
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from weiwan.analytics.churn.survival import SurvivalModel, fit_survival, survival_history
from weiwan.analytics.churn.training import uniform_sample
from weiwan.analytics.features import as_of_rows
from weiwan.analytics.warehouse import TableSource
from weiwan.core.logging import get_logger

log = get_logger(__name__)

COVARIATES = ["is_prepaid", "plan_monthly_fee"]
MIN_CHURNS = 20  # fewer churns and the tenure curve is guesswork
#: subscribers the Weibull model is fitted on (a sample when there are more): three parameters
FIT_ROWS = 200_000


def history_start(source: TableSource, snapshot: date) -> date:
    """The first bill month delivered by ``snapshot``: the churn history starts there."""
    usage = as_of_rows(source, "monthly_usage", snapshot)
    return pd.Timestamp(usage.bill_month.min().execute()).date()


def fit_tenure_model(
    source: TableSource, snapshot: date, *, horizon_months: float = 60.0
) -> SurvivalModel | None:
    """A Weibull AFT model of tenure from what was known at ``snapshot``; ``None`` (logged)
    when the history holds fewer than ``MIN_CHURNS`` churns."""
    history = survival_history(
        as_of_rows(source, "subscribers", snapshot),
        as_of_rows(source, "churn_records", snapshot),
        snapshot,
        observed_from=history_start(source, snapshot),
    )
    counts = (
        history.aggregate(rows=history.count(), churns=history.churned.sum())
        .to_pyarrow()
        .to_pylist()[0]
    )
    churns = int(counts["churns"] or 0)
    if churns < MIN_CHURNS:
        log.warning("tenure.no_model", snapshot=str(snapshot), churns=churns, needed=MIN_CHURNS)
        return None
    # the fit uses FIT_ROWS subscribers: drawn in the store, only they reach the driver, in
    # subscriber order (the same rows, so the same model, on every engine)
    population = int(counts["rows"])
    share = FIT_ROWS / population if population > FIT_ROWS else 1.0
    training = uniform_sample(history, share).order_by("subscriber_id").to_pyarrow()
    return fit_survival(
        training,
        COVARIATES,
        entry_col="entry_months",
        horizon_months=horizon_months,
        max_rows=FIT_ROWS,
    )
