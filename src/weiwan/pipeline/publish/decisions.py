"""Publish the day's decisions (kind ``decisions``): that snapshot date's rows are deleted,
then loaded (other dates stay), in one transaction with the ``publications`` row; with them
the shadow prices of the limits that bound them, what the outcomes taught them per offer type
and the strategy arms' evaluation."""

from __future__ import annotations

import math
from datetime import date

import ibis.expr.types as ir
import sqlalchemy as sa

from weiwan.analytics.decide.allocation import LIMIT_PRICES
from weiwan.analytics.profile import snapshot_rows
from weiwan.analytics.uplift import UPLIFT_LEVELS
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.decide_rules import OUTCOME_MONTHS
from weiwan.ops.customers.models import PublishedDecision
from weiwan.ops.ledger.service import record_batch_usage
from weiwan.ops.offers.models import PublishedLimitPrice, PublishedUpliftLevel
from weiwan.ops.strategies.models import PublishedStrategyArm
from weiwan.pipeline.publish.bookkeeping import record_publication
from weiwan.pipeline.publish.columns import null_of, typed
from weiwan.pipeline.publish.transport import insert_rows, load_staged, table_of

KIND = "decisions"


def decision_rows(warehouse: Warehouse, snapshot: date) -> ir.Table:
    """The stored decisions of ``snapshot`` in the published model's columns (no ``id``)."""
    stored = snapshot_rows(warehouse, "decisions", snapshot)
    columns: dict[str, ir.Value] = {}
    for column in table_of(PublishedDecision).columns:
        if column.name == "id":
            continue
        value = stored[column.name] if column.name in stored.columns else null_of(column)
        columns[column.name] = typed(value, column)
    return stored.select(**columns).order_by("subscriber_id", "trigger_kind", "trigger")


def publish_decisions(warehouse: Warehouse, engine: sa.Engine, snapshot: date) -> int:
    """Replace ``snapshot``'s published decisions (and their count in the live ledger), the
    shadow prices of the limits that bound them, the learned levels of the offer types and the
    strategy arms' evaluation; returns the decisions loaded."""
    table = table_of(PublishedDecision)
    prices = table_of(PublishedLimitPrice)
    levels = table_of(PublishedUpliftLevel)
    arms = table_of(PublishedStrategyArm)
    rows = None
    if warehouse.has_table("decisions"):
        rows = decision_rows(warehouse, snapshot)
    with engine.begin() as conn:
        conn.execute(sa.delete(table).where(table.c.snapshot_date == snapshot))
        conn.execute(sa.delete(prices).where(prices.c.snapshot_date == snapshot))
        conn.execute(sa.delete(levels).where(levels.c.snapshot_date == snapshot))
        conn.execute(sa.delete(arms).where(arms.c.snapshot_date == snapshot))
        loaded = 0 if rows is None else load_staged(warehouse, conn, table, rows, KIND)
        record_batch_usage(conn, snapshot)  # the live ledger's count of the day's grants
        insert_rows(conn, prices, _day_rows(warehouse, LIMIT_PRICES, snapshot))
        insert_rows(conn, levels, _learned_levels(warehouse, snapshot))
        insert_rows(conn, arms, _day_rows(warehouse, "strategy_arms", snapshot))
        record_publication(conn, KIND, snapshot, loaded)
    return loaded


def _learned_levels(warehouse: Warehouse, snapshot: date) -> list[dict[str, object]]:
    """The day's learned levels; one learned before persistence and the window were recorded
    (a day written by an earlier version) persists 0 over the 3-month window: valued as it was
    then."""
    rows = _day_rows(warehouse, UPLIFT_LEVELS, snapshot)
    return [
        {
            **row,
            "persistence": row.get("persistence") or 0.0,
            "window_months": row.get("window_months") or OUTCOME_MONTHS,
        }
        for row in rows
    ]


def _day_rows(warehouse: Warehouse, name: str, snapshot: date) -> list[dict[str, object]]:
    """The rows of the small day table ``name`` for ``snapshot`` (shadow prices, learned
    levels, the arms' evaluation: a handful), NaN as NULL; none when it was never written."""
    if not warehouse.has_table(name):
        return []
    stored = snapshot_rows(warehouse, name, snapshot).to_pyarrow().to_pylist()
    return [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        for row in stored
    ]
