"""The daily run's anomaly step (异常库): the anomaly rules over the anomaly context, each
firing once per (subscriber, rule, period) — billing rules once a month, disconnection rules
once per event (their period is the event's date) — with the pool's columns attached.

The rules are those in effect (``RunContext.rule_documents.anomaly_rules``, edited in the web and
applied by publish), else the shipped ``alert_rules/anomalies.yaml``. The alert step never
loads them: anomalies go to people through the pool, not to the next best actions.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from weiwan.analytics.alerts import (
    ALERT_SCHEMA,
    DEFAULT_ANOMALY_FILES,
    AlertRule,
    RuleSet,
    evaluate_rules,
    fired_once,
    load_rules,
)
from weiwan.analytics.anomalies import POOL_COLUMNS, POOL_TABLE, anomaly_context
from weiwan.core.logging import get_logger
from weiwan.pipeline.steps import RunContext

log = get_logger(__name__)

TABLE = POOL_TABLE
#: the rule's own columns stored with every entry
RULE_COLUMNS: dict[str, str] = {
    "category": "string",
    "name_zh": "string",
    "name_en": "string",
}
#: the columns (and types) of the step's table, in order
ANOMALY_SCHEMA: dict[str, str] = {
    **ALERT_SCHEMA,
    **RULE_COLUMNS,
    **{c: "string" for c in POOL_COLUMNS},
}


def anomaly_rules(ctx: RunContext) -> RuleSet:
    """The anomaly rules in effect; problems are logged and the broken rules skipped."""
    path = ctx.rule_documents.anomaly_rules if ctx.rule_documents else DEFAULT_ANOMALY_FILES[0]
    return load_rules([path], kinds=("anomaly",))


def _rule_table(rules: list[AlertRule]) -> ir.Table:
    return ibis.memtable(
        {
            "rule_id": [r.id for r in rules],
            "category": [r.category for r in rules],
            "name_zh": [r.name_zh for r in rules],
            "name_en": [r.name_en for r in rules],
        }
    ).cast({"rule_id": "string", **RULE_COLUMNS})


def anomalies_step(ctx: RunContext) -> ir.Table:
    """The snapshot's new pool entries (:data:`ANOMALY_SCHEMA`); re-running a date gives the
    same rows, and a firing stored by an earlier date is not repeated."""
    warehouse, snapshot = ctx.warehouse, ctx.snapshot
    rules = anomaly_rules(ctx)
    # computed once and kept for the rules and the pool's columns: used twice as an expression,
    # its joins ran twice at once and the insert ran out of memory at 10 M subscribers
    context = anomaly_context(warehouse, snapshot).cache()
    result = evaluate_rules(context, rules, snapshot)
    for error in [*rules.errors, *result.errors]:
        log.warning("anomalies.rule_skipped", problem=str(error))
    earlier = None
    if warehouse.has_table(TABLE):
        stored = warehouse.table(TABLE)
        earlier = stored.filter(stored.snapshot_date < snapshot)
    new = fired_once(result.table, earlier)
    pool = context.select(
        subscriber_id=context.subscriber_id.cast("string"),
        **{c: context[c].cast("string") for c in POOL_COLUMNS},
    )
    if not rules.rules:
        new = new.mutate(**{c: ibis.null(t) for c, t in RULE_COLUMNS.items()})
    else:
        new = new.left_join(_rule_table(rules.rules), "rule_id").drop("rule_id_right")
    rows = new.left_join(pool, "subscriber_id").drop("subscriber_id_right")
    return rows.select(*ANOMALY_SCHEMA).cast(ANOMALY_SCHEMA)
