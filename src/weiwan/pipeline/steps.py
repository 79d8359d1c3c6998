"""The steps of the daily run for one snapshot; each returns the rows to store for that date."""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow.compute as pc

from weiwan.analytics.churn.clv import compute_clv, historic_margin
from weiwan.analytics.churn.survival import expected_months_table, fit_survival, survival_history
from weiwan.analytics.features import as_of_rows, compute_features
from weiwan.analytics.profile import build_profile, load_profile, snapshot_rows
from weiwan.analytics.segments import compute_segments, load_segment_config
from weiwan.analytics.tags import compute_tags, load_tag_library
from weiwan.analytics.targets import evaluate_groups, load_target_groups
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.logging import get_logger

log = get_logger(__name__)

SURVIVAL_COVARIATES = ["is_prepaid", "plan_monthly_fee"]
MIN_CHURNS_FOR_SURVIVAL = 20


def features_step(warehouse: Warehouse, snapshot: date) -> ir.Table:
    return compute_features(warehouse, snapshot)


def tags_step(warehouse: Warehouse, snapshot: date) -> ir.Table:
    library = load_tag_library()
    result = compute_tags(snapshot_rows(warehouse, "features", snapshot), library)
    for error in [*library.errors, *result.errors]:
        log.warning("tags.skipped", problem=str(error))
    return result.table


def segments_step(warehouse: Warehouse, snapshot: date) -> ir.Table:
    return compute_segments(snapshot_rows(warehouse, "features", snapshot), load_segment_config())


def clv_step(warehouse: Warehouse, snapshot: date) -> ir.Table:
    """Survival model fitted on the operator's own history up to the snapshot, then CLV."""
    config = load_segment_config().clv
    usage = as_of_rows(warehouse, "monthly_usage", snapshot)
    first_month = pd.Timestamp(usage.bill_month.min().execute()).date()  # history starts here
    history = survival_history(
        as_of_rows(warehouse, "subscribers", snapshot),
        as_of_rows(warehouse, "churn_records", snapshot),
        snapshot,
        observed_from=first_month,
    )
    features = snapshot_rows(warehouse, "features", snapshot)
    training = history.to_pyarrow()
    churns = int(pc.sum(training["churned"]).as_py() or 0)
    if churns < MIN_CHURNS_FOR_SURVIVAL:
        # Too little churn history to fit tenure: future value stays unknown, not invented.
        log.warning("clv.no_survival_model", churns=churns, needed=MIN_CHURNS_FOR_SURVIVAL)
        expected = features.select("subscriber_id", expected_remaining_months=ibis.null("float64"))
    else:
        model = fit_survival(
            training,
            SURVIVAL_COVARIATES,
            entry_col="entry_months",
            horizon_months=config.horizon_months,
        )
        expected = expected_months_table(model, features)
    margin = historic_margin(usage, snapshot, config.margin_rate)
    return compute_clv(features, margin, expected, config)


def profile_step(warehouse: Warehouse, snapshot: date) -> ir.Table:
    return build_profile(warehouse, snapshot)


def target_groups_step(warehouse: Warehouse, snapshot: date) -> ir.Table:
    members = evaluate_groups(load_profile(warehouse, snapshot), load_target_groups())
    return members.mutate(snapshot_date=ibis.literal(snapshot))
