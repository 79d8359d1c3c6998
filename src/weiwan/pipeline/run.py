"""The daily pipeline run (日跑批): one snapshot date, each step replacing that date's results.

(collect the operational contacts → outcomes of closed decisions →)

features → tags → segments → CLV → scores → drift → profile → saved target groups → alerts
→ next best actions (decisions) → the shadow prices of the limits that bound them → the
strategy arms' evaluation (champion–challenger).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from sqlalchemy import Engine

from weiwan.analytics.churn.registry import ModelRegistry
from weiwan.analytics.decide.allocation import LIMIT_PRICES
from weiwan.analytics.outcomes import retention_outcomes
from weiwan.analytics.uplift import UPLIFT_LEVELS
from weiwan.analytics.uplift_evidence import EVIDENCE_TABLE
from weiwan.analytics.warehouse import RUN_WARNINGS, Store, has_rows
from weiwan.core.errors import WeiwanError
from weiwan.core.logging import get_logger
from weiwan.pipeline.anomaly_steps import anomalies_step
from weiwan.pipeline.collect import (
    collect_contacts,
    collect_do_not_disturb,
    collect_erasures,
    collect_events,
    collect_objections,
    collect_online_grants,
)
from weiwan.pipeline.decision_steps import (
    alerts_step,
    decisions_step,
    limit_prices_step,
    strategy_arms_step,
    uplift_levels_step,
)
from weiwan.pipeline.publish.rule_documents import rule_document_paths
from weiwan.pipeline.steps import (
    RunContext,
    clv_step,
    drift_step,
    features_step,
    profile_step,
    scores_step,
    segments_step,
    tags_step,
    target_groups_step,
)

log = get_logger(__name__)

Progress = Callable[[str, int, int], None]
#: a step's rows for the day: one table, disjoint parts of it stored one after another, or
#: None when it had nothing to compute
Step = Callable[[RunContext], ir.Table | list[ir.Table] | None]

#: step → results later days keep of that step's day (the uplift's evidence of a day's
#: features): dropped when the step stores the day again (a day run again after a correction),
#: so they are derived again
KEPT_FROM = {"features": (EVIDENCE_TABLE,)}

#: (result table, step) in run order; each step reads the warehouse, incl. earlier results.
STEPS: tuple[tuple[str, Step], ...] = (
    ("features", features_step),
    ("tags", tags_step),
    ("segments", segments_step),
    ("clv", clv_step),
    ("scores", scores_step),
    ("drift", drift_step),
    ("profile", profile_step),
    ("target_groups", target_groups_step),
    ("alerts", alerts_step),
    ("anomalies", anomalies_step),
    ("decisions", decisions_step),
    (LIMIT_PRICES, limit_prices_step),
    (UPLIFT_LEVELS, uplift_levels_step),
    ("strategy_arms", strategy_arms_step),
)


@dataclass
class PipelineResult:
    """Rows written per result table for one snapshot, and what the operator should know
    (no model could be trained, no policy valid on the day, ...)."""

    snapshot: date
    rows: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def run_pipeline(
    warehouse: Store,
    snapshot: date,
    progress: Progress | None = None,
    *,
    registry: ModelRegistry | None = None,
    ops_engine: Engine | None = None,
    tz: ZoneInfo | None = None,
    config_home: Path | None = None,
) -> PipelineResult:
    """Run every step for ``snapshot``; re-running replaces that snapshot's results.

    With ``ops_engine`` the operational side's contacts and real-time events are collected
    first and the outcomes of closed decisions refreshed (``retention_outcomes``), so the day's
    decisions learn from them.
    With ``config_home`` the alert and care rules, policies and contact policy are those in
    effect under ``<config_home>/config`` (edited in the web, applied by publish), else the
    shipped files.
    """
    if not has_rows(warehouse.table("subscribers")):
        raise WeiwanError("the warehouse holds no subscribers: run `weiwan ingest` first")
    report = progress or (lambda _label, _done, _total: None)
    result = PipelineResult(snapshot)
    rule_documents = rule_document_paths(config_home) if config_home is not None else None
    context = RunContext(warehouse, snapshot, registry, rule_documents)
    if ops_engine is not None:
        # first: an erased subscriber is neither scored nor published again
        result.rows["erasures"] = collect_erasures(ops_engine, warehouse)
        result.rows["ops_contacts"] = collect_contacts(
            ops_engine, warehouse, snapshot, tz=tz or ZoneInfo("Asia/Shanghai")
        )
        result.rows["do_not_disturb"] = collect_do_not_disturb(ops_engine, warehouse)
        result.rows["objections"] = collect_objections(ops_engine, warehouse)
        result.rows["ops_events"] = collect_events(
            ops_engine, warehouse, snapshot, tz=tz or ZoneInfo("Asia/Shanghai")
        )
        result.rows["ops_online_grants"] = collect_online_grants(
            ops_engine, warehouse, snapshot, tz=tz or ZoneInfo("Asia/Shanghai")
        )
    if warehouse.has_table("ops_contacts") and warehouse.has_table("decisions"):
        result.rows["retention_outcomes"] = warehouse.replace_table(
            "retention_outcomes", retention_outcomes(warehouse, snapshot)
        )
    for done, (name, step) in enumerate(STEPS):
        report(name, done, len(STEPS))
        result.rows[name] = run_step(context, name, step)
    report("done", len(STEPS), len(STEPS))
    result.warnings = [message for _, message in context.warnings]
    _store_warnings(warehouse, snapshot, context.warnings)
    return result


def run_step(context: RunContext, name: str, step: Step) -> int:
    """Run ``step`` and store its rows as the day's part of table ``name`` (nothing computed:
    the day's part removed); the rows stored."""
    warehouse, snapshot = context.warehouse, context.snapshot
    rows = step(context)
    for kept in KEPT_FROM.get(name, ()):
        warehouse.drop_snapshot(kept, snapshot)
    if rows is None:  # the step had nothing to compute (e.g. no model could be trained)
        warehouse.drop_snapshot(name, snapshot)
        return 0
    if isinstance(rows, list):
        stored = warehouse.replace_snapshot_parts(name, rows, snapshot)
    else:
        stored = warehouse.replace_snapshot(name, rows, snapshot)
    log.info("pipeline.step", step=name, snapshot=snapshot.isoformat(), rows=stored)
    return stored


def _store_warnings(warehouse: Store, snapshot: date, warnings: list[tuple[str, str]]) -> None:
    """The run's warnings as the snapshot's part of ``run_warnings`` (event, message), for the
    commands that explain a missing result later (e.g. ``weiwan scores export``)."""
    rows = pa.table(
        {
            "event": pa.array([e for e, _ in warnings], pa.string()),
            "message": pa.array([m for _, m in warnings], pa.string()),
            "snapshot_date": pa.array([snapshot] * len(warnings), pa.date32()),
        }
    )
    warehouse.replace_snapshot(RUN_WARNINGS, ibis.memtable(rows), snapshot)
