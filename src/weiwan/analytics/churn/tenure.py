"""The operator's tenure model: a survival model fitted on its own history up to a snapshot.

Shared by the CLV step (expected remaining tenure, P(leave within 3 / 6 months)) and by the
evaluation report (concordance index on what happened after an earlier snapshot).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pyarrow.compute as pc

from weiwan.analytics.churn.survival import SurvivalModel, fit_survival, survival_history
from weiwan.analytics.features import as_of_rows
from weiwan.analytics.warehouse import TableSource
from weiwan.core.logging import get_logger

log = get_logger(__name__)

COVARIATES = ["is_prepaid", "plan_monthly_fee"]
MIN_CHURNS = 20  # fewer churns and the tenure curve is guesswork


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
    training = history.to_pyarrow()
    churns = int(pc.sum(training["churned"]).as_py() or 0)
    if churns < MIN_CHURNS:
        log.warning("tenure.no_model", snapshot=str(snapshot), churns=churns, needed=MIN_CHURNS)
        return None
    return fit_survival(
        training, COVARIATES, entry_col="entry_months", horizon_months=horizon_months
    )
