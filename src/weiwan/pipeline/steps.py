"""The steps of the daily run for one snapshot; each returns the rows to store for that date."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import ibis
import ibis.expr.types as ir

from weiwan.analytics.churn.clv import compute_clv, historic_margin
from weiwan.analytics.churn.drift import drift_in_batches
from weiwan.analytics.churn.evaluation import train_and_register
from weiwan.analytics.churn.registry import ModelMeta, ModelRegistry, WeakModelError
from weiwan.analytics.churn.scoring import score_in_batches
from weiwan.analytics.churn.survival import expected_months_table
from weiwan.analytics.churn.tenure import fit_tenure_model
from weiwan.analytics.churn.training import NotEnoughHistoryError
from weiwan.analytics.features import (
    as_of_rows,
    compute_features,
    log_undelivered,
    undelivered_inputs,
)
from weiwan.analytics.profile import build_profile, load_profile, snapshot_rows
from weiwan.analytics.segments import compute_segments, load_segment_config
from weiwan.analytics.tags import compute_tags, load_tag_library
from weiwan.analytics.targets import evaluate_groups, load_target_groups
from weiwan.analytics.warehouse import Store, SubscriberRange
from weiwan.core.logging import get_logger
from weiwan.core.settings import get_settings
from weiwan.pipeline.publish.rule_documents import RuleDocumentPaths

log = get_logger(__name__)


@dataclass
class RunContext:
    """What every step of one run sees."""

    warehouse: Store
    snapshot: date
    registry: ModelRegistry | None = None
    #: the rule-document files in effect (edited in the web and applied); None: the shipped ones
    rule_documents: RuleDocumentPaths | None = None
    #: what the operator should know about this run, (event, message): logged, shown in the
    #: run's summary and stored in the warehouse table ``run_warnings``
    warnings: list[tuple[str, str]] = field(default_factory=list)
    #: the decisions' shadow prices of the limits that bound them, (kind, name) → yuan; stored
    #: by the step after the decisions (``limit_prices``)
    shadow_prices: dict[tuple[str, str], float] = field(default_factory=dict)
    #: what the outcomes taught the decisions per offer type (``UpliftModel.levels``); stored
    #: by the step after the decisions (``uplift_levels``)
    uplift_levels: list[dict[str, object]] = field(default_factory=list)

    @cached_property
    def subscriber_ranges(self) -> list[SubscriberRange]:
        """The parts the per-subscriber steps (features, profile) are computed in: ranges of
        about ``WEIWAN_PART_SUBSCRIBERS`` ids on DuckDB, one on Spark; looked up once a run."""
        return self.warehouse.subscriber_ranges(get_settings().part_subscribers)

    def warn(self, event: str, message: str, **details: object) -> None:
        """Log ``event`` and keep ``message`` for the run's summary."""
        log.warning(event, problem=message, **details)
        self.warnings.append((event, message))


def features_step(ctx: RunContext) -> list[ir.Table]:
    """The features, in parts of about ``WEIWAN_PART_SUBSCRIBERS`` subscribers on DuckDB (one
    aggregation over 10 M subscribers spilled: 160 s, in ten parts 58 s)."""
    warehouse, snapshot = ctx.warehouse, ctx.snapshot
    missing = undelivered_inputs(warehouse, snapshot)
    if missing:
        log_undelivered(snapshot, missing)
    return [
        compute_features(warehouse, snapshot, within=part, not_delivered=missing)
        for part in ctx.subscriber_ranges
    ]


def tags_step(ctx: RunContext) -> ir.Table:
    warehouse, snapshot = ctx.warehouse, ctx.snapshot
    library = load_tag_library(edited=ctx.rule_documents.tags if ctx.rule_documents else None)
    result = compute_tags(snapshot_rows(warehouse, "features", snapshot), library)
    for error in [*library.errors, *result.errors]:
        log.warning("tags.skipped", problem=str(error))
    return result.table


def segments_step(ctx: RunContext) -> ir.Table:
    warehouse, snapshot = ctx.warehouse, ctx.snapshot
    return compute_segments(snapshot_rows(warehouse, "features", snapshot), load_segment_config())


def clv_step(ctx: RunContext) -> ir.Table:
    """Survival model fitted on the operator's own history up to the snapshot, then CLV."""
    warehouse, snapshot = ctx.warehouse, ctx.snapshot
    config = load_segment_config().clv
    features = snapshot_rows(warehouse, "features", snapshot)
    model = fit_tenure_model(warehouse, snapshot, horizon_months=config.horizon_months)
    if model is None:
        # Too little churn history to fit tenure: future value stays unknown, not invented.
        unknown = ibis.null("float64")
        expected = features.select(
            "subscriber_id",
            expected_remaining_months=unknown,
            p_leave_3m=unknown,
            p_leave_6m=unknown,
        )
    else:
        batch_rows = get_settings().batch_rows
        expected = expected_months_table(warehouse, model, features, batch_rows=batch_rows)
    usage = as_of_rows(warehouse, "monthly_usage", snapshot)
    margin = historic_margin(usage, snapshot, config.margin_rate)
    return compute_clv(features, margin, expected, config)


def profile_step(ctx: RunContext) -> list[ir.Table]:
    """The profile, in the features' parts (a join of five 8 M-row tables spilled at 10 M)."""
    warehouse, snapshot = ctx.warehouse, ctx.snapshot
    return [build_profile(warehouse, snapshot, within=part) for part in ctx.subscriber_ranges]


def target_groups_step(ctx: RunContext) -> ir.Table:
    warehouse, snapshot = ctx.warehouse, ctx.snapshot
    edited = ctx.rule_documents.target_groups if ctx.rule_documents else None
    members = evaluate_groups(load_profile(warehouse, snapshot), load_target_groups(edited))
    return members.mutate(snapshot_date=ibis.literal(snapshot))


MIN_CHURNS_FOR_MODEL = 20


def _scoring_model(ctx: RunContext) -> tuple[object, ModelMeta] | None:
    """The promoted model; on a first run, one trained, registered and promoted now."""
    registry = ctx.registry
    if registry is None:
        return None
    if registry.promoted() is None:
        try:
            version, trained, files = train_and_register(ctx.warehouse, registry, promote=True)
        except NotEnoughHistoryError as exc:
            ctx.warn("scores.no_model", f"no churn model, nothing scored on {ctx.snapshot}: {exc}")
            return None
        except WeakModelError as exc:
            ctx.warn("scores.weak_model", f"nothing scored on {ctx.snapshot}: {exc}")
            return None
        auc = trained.meta.metrics["default"]["roc_auc"]
        log.info("model.trained", version=version, auc=auc, report=str(files["html_path"]))
    return registry.load()


def scores_step(ctx: RunContext) -> ir.Table | None:
    """Churn probability, risk band and reasons for every subscriber of the snapshot."""
    loaded = _scoring_model(ctx)
    if loaded is None:
        return None
    model, meta = loaded
    features = snapshot_rows(ctx.warehouse, "features", ctx.snapshot)
    settings = get_settings()
    return score_in_batches(
        ctx.warehouse,
        features,
        model,
        meta,
        reasons_for=settings.reasons_for,
        batch_rows=settings.batch_rows,
    )


def drift_step(ctx: RunContext) -> ir.Table | None:
    """Population stability of every feature and of the score against the model's training.

    Uses the scores the previous step stored, so the model does not predict twice.
    """
    registry, warehouse = ctx.registry, ctx.warehouse
    version = registry.promoted() if registry is not None else None
    if registry is None or version is None or not warehouse.has_table("scores"):
        return None
    meta = registry.meta(version)
    ref = meta.extra.get("drift_reference")
    if not ref:  # a model registered before drift references were kept
        return None
    scored = snapshot_rows(warehouse, "scores", ctx.snapshot).select(
        "subscriber_id", "churn_probability"
    )
    features = snapshot_rows(warehouse, "features", ctx.snapshot)
    rows = features.join(scored, "subscriber_id")
    batch_rows = get_settings().batch_rows
    table = drift_in_batches(warehouse, ref, rows, meta.features, batch_rows)
    for feature, value in table.loc[table.warning, ["feature", "psi"]].itertuples(index=False):
        log.warning("drift.psi_above_0.2", feature=feature, psi=round(float(value), 3))
    table["model_version"] = meta.version
    return ibis.memtable(table).mutate(snapshot_date=ibis.literal(ctx.snapshot))
