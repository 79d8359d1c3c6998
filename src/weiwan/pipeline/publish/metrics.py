"""Publish the dashboard figures (kind ``metrics``): ``analytics.kpis`` of a snapshot into
``published_metrics`` and ``dissatisfied_customers``.

Both tables are replaced whole in one transaction with their ``publications`` row, so readers
see either the previous figures or the new ones, and publishing the same snapshot twice leaves
the same rows. Branch codes are looked up in ``branches`` (the customer view's publish creates
them); a code without a branch keeps ``branch_id`` NULL, seen only by roles that see everything.
The registry's models add their hold-out AUC (``model_auc`` / ``holdout``) to the monitor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa

from weiwan.analytics.churn.registry import ModelRegistry
from weiwan.analytics.kpis import all_metrics, dissatisfied_customers
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.settings import get_settings
from weiwan.ops.reports.models import DissatisfiedCustomer, PublishedMetric
from weiwan.pipeline.publish.bookkeeping import record_publication
from weiwan.pipeline.publish.branches import branch_ids
from weiwan.pipeline.publish.transport import insert_rows, table_of

KIND = "metrics"


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) or math.isinf(number) else number


def registry_rows(registry: ModelRegistry | None) -> list[dict[str, Any]]:
    """``model_auc`` / ``holdout`` of every registered model version with a hold-out."""
    if registry is None:
        return []
    rows = []
    for version in registry.versions():
        meta = registry.meta(version)
        auc = _number((meta.metrics.get("default") or {}).get("roc_auc"))
        if meta.holdout_snapshot is None or auc is None:
            continue
        rows.append(
            {
                "metric": "model_auc",
                "period": date.fromisoformat(str(meta.holdout_snapshot)[:10]),
                "dimension": "holdout",
                "member": version,
                "branch": None,
                "value": auc,
                "numerator": None,
                "denominator": float(meta.training_rows),
            }
        )
    return rows


def metric_rows(
    frame: pd.DataFrame, snapshot: date, branch_ids: Mapping[str, int]
) -> list[dict[str, Any]]:
    """The ``published_metrics`` rows of a ``kpis`` frame."""
    rows = []
    for record in frame.to_dict("records"):
        branch = record["branch"] if isinstance(record["branch"], str) else None
        rows.append(
            {
                "snapshot_date": snapshot,
                "metric": str(record["metric"]),
                "period": pd.Timestamp(record["period"]).date(),
                "dimension": str(record["dimension"]),
                "member": str(record["member"])[:100],
                "branch_code": branch,
                "branch_id": branch_ids.get(branch) if branch else None,
                "value": _number(record["value"]),
                "numerator": _number(record["numerator"]),
                "denominator": _number(record["denominator"]),
            }
        )
    return rows


def dissatisfied_rows(
    frame: pd.DataFrame, snapshot: date, branch_ids: Mapping[str, int], tz: ZoneInfo
) -> list[dict[str, Any]]:
    """The ``dissatisfied_customers`` rows; survey times (operator local time) become UTC."""
    rows = []
    for record in frame.to_dict("records"):
        branch = record["branch"] if isinstance(record["branch"], str) else None
        local: datetime = pd.Timestamp(record["survey_time"]).to_pydatetime()
        rows.append(
            {
                "snapshot_date": snapshot,
                "subscriber_id": str(record["subscriber_id"]),
                "branch_code": branch,
                "branch_id": branch_ids.get(branch) if branch else None,
                "survey_time": local.replace(tzinfo=tz).astimezone(UTC),
                "touchpoint": record["touchpoint"],
                "score": int(record["score"]),
            }
        )
    return rows


def publish_metrics(
    warehouse: Warehouse,
    engine: sa.Engine,
    snapshot: date,
    *,
    registry: ModelRegistry | None = None,
    tz: ZoneInfo | None = None,
) -> int:
    """Replace the published figures with ``snapshot``'s; returns the metric rows written.

    ``registry`` defaults to the settings' model directory; ``tz`` (the operator's local time
    of survey answers) to the settings' time zone.
    """
    settings = get_settings()
    if registry is None and settings.models_dir.exists():
        registry = ModelRegistry(settings.models_dir)
    zone = tz or ZoneInfo(settings.timezone)
    frame = all_metrics(warehouse, snapshot)
    extra = pd.DataFrame(registry_rows(registry), columns=frame.columns)
    low = dissatisfied_customers(warehouse, snapshot)
    metrics, dissatisfied = table_of(PublishedMetric), table_of(DissatisfiedCustomer)
    with engine.begin() as conn:
        ids = branch_ids(conn)
        rows = metric_rows(frame, snapshot, ids) + metric_rows(extra, snapshot, ids)
        conn.execute(sa.delete(metrics))
        conn.execute(sa.delete(dissatisfied))
        insert_rows(conn, metrics, rows)
        insert_rows(conn, dissatisfied, dissatisfied_rows(low, snapshot, ids, zone))
        record_publication(conn, KIND, snapshot, len(rows))
    return len(rows)
