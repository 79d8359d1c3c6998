"""Steps of the daily run after the profile: rule alerts and the next best actions.

Decisions of earlier days stand in for grants and contacts until the operational side feeds
outcomes back: an action taken counts against the policy's entry limit and budget, the value
cap and the contact caps from its day on.
"""

from __future__ import annotations

from dataclasses import asdict

import ibis
import ibis.expr.types as ir

from weiwan.analytics.alerts import alert_context, evaluate_rules, fired_once, load_rules
from weiwan.analytics.contact_policy import load_contact_policy
from weiwan.analytics.decide import DayInputs, decide_day, load_decide_config
from weiwan.analytics.policies import load_policies
from weiwan.analytics.profile import load_profile, snapshot_rows
from weiwan.analytics.uplift import learn_uplift
from weiwan.core.logging import get_logger
from weiwan.pipeline.steps import RunContext

log = get_logger(__name__)


def alerts_step(ctx: RunContext) -> ir.Table:
    """Alert and care rules fired on the snapshot, once per subscriber, rule and period."""
    warehouse, snapshot = ctx.warehouse, ctx.snapshot
    rules = load_rules(list(ctx.settings.rule_files) if ctx.settings else None)
    result = evaluate_rules(alert_context(warehouse, snapshot), rules, snapshot)
    for error in [*rules.errors, *result.errors]:
        log.warning("alerts.rule_skipped", problem=str(error))
    earlier = None
    if warehouse.has_table("alerts"):
        stored = warehouse.table("alerts")
        earlier = stored.filter(stored.snapshot_date < snapshot)
    return fired_once(result.table, earlier)


def _earlier_actions(ctx: RunContext) -> ir.Table | None:
    if not ctx.warehouse.has_table("decisions"):
        return None
    stored = ctx.warehouse.table("decisions")
    return stored.filter((stored.snapshot_date < ctx.snapshot) & stored.action)


def _learned_uplift(ctx: RunContext) -> dict[str, float] | None:
    """Uplift per offer type learned from recorded outcomes before the snapshot, if any."""
    warehouse = ctx.warehouse
    if not warehouse.has_table("retention_outcomes"):
        return None
    outcomes = warehouse.table("retention_outcomes")
    outcomes = outcomes.filter(outcomes.snapshot_date < ctx.snapshot)
    features = warehouse.table("features")
    joined = outcomes.join(features, ["subscriber_id", "snapshot_date"]).to_pandas()
    names = [c for c in features.columns if c not in ("subscriber_id", "snapshot_date")]
    learned = learn_uplift(joined, names)
    for item in learned.values():
        log.info("uplift.learned", **asdict(item))
    return {k: v.uplift for k, v in learned.items()} or None


def decisions_step(ctx: RunContext) -> ir.Table | None:
    """At most one action per subscriber for the snapshot's day (see analytics.decide)."""
    warehouse, snapshot = ctx.warehouse, ctx.snapshot
    profile = load_profile(warehouse, snapshot)
    if "churn_probability" not in profile.columns:
        log.warning("decisions.no_scores", snapshot=str(snapshot))
        return None
    library = load_policies(ctx.settings.policies if ctx.settings else None, profile=profile)
    for issue in library.errors:
        log.warning("policies.refused", problem=str(issue))
    for issue in library.warnings:
        log.warning("policies.more_generous", problem=str(issue))
    actions = _earlier_actions(ctx)
    granted = history = None
    if actions is not None:
        offers = actions.filter(actions.policy_id.notnull())
        granted = offers.select(
            "subscriber_id", "policy_id", granted_on=offers.snapshot_date, cost=offers.cost
        )
        history = actions.select(
            "subscriber_id",
            "channel",
            contacted_at=actions.snapshot_date,
            outcome=ibis.null("string"),
        )
    dnd = warehouse.table("do_not_disturb") if warehouse.has_table("do_not_disturb") else None
    inputs = DayInputs(
        profile=profile,
        alerts=snapshot_rows(warehouse, "alerts", snapshot),
        granted=granted,
        history=history,
        dnd=dnd,
    )
    frame = decide_day(
        inputs,
        library,
        load_contact_policy(ctx.settings.contact_policy if ctx.settings else None),
        load_decide_config(),
        snapshot,
        learned=_learned_uplift(ctx),
    )
    frame["snapshot_date"] = snapshot
    return ibis.memtable(frame)
