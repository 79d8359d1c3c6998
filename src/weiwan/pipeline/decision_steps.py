"""Steps of the daily run after the profile: rule alerts and the next best actions.

Decisions of earlier days stand in for grants and contacts until the operational side feeds
outcomes back: an action taken counts against the policy's entry limit and budget, the value
cap and the contact caps from its day on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from weiwan.analytics.alerts import alert_context, evaluate_rules, fired_once, load_rules
from weiwan.analytics.churn.leaving_reasons import LeavingMixer
from weiwan.analytics.churn.registry import ModelMeta
from weiwan.analytics.contact_policy import ContactPolicy, load_contact_policy
from weiwan.analytics.decide.config import load_decide_config
from weiwan.analytics.decide.day import DECISION_SCHEMA, DayInputs, StageTimer, decide_day_parts
from weiwan.analytics.policies import PolicyLibrary, load_policies
from weiwan.analytics.profile import load_profile, snapshot_rows
from weiwan.analytics.strategy_evaluation import ARM_COLUMNS, strategy_evaluation
from weiwan.analytics.targets import load_target_groups
from weiwan.analytics.uplift import UpliftModel, enough_controls, held_out, learn_uplift
from weiwan.analytics.uplift_evidence import closed_outcomes, uplift_evidence
from weiwan.core.decide_rules import OUTCOME_MONTHS, DecideConfig
from weiwan.core.logging import get_logger
from weiwan.core.offer_valuation import leaving_mix, prior_uplift, reason_drivers
from weiwan.core.settings import get_settings
from weiwan.pipeline.collect import DND_TABLE, GRANTS_TABLE, OBJECTIONS_TABLE
from weiwan.pipeline.steps import RunContext

log = get_logger(__name__)


def fired_alerts(ctx: RunContext) -> ir.Table:
    """The alert and care rules evaluated on the snapshot (every rule that fires, before
    :func:`fired_once`); a rule that cannot be evaluated is logged and skipped."""
    rules = load_rules(list(ctx.rule_documents.rule_files) if ctx.rule_documents else None)
    result = evaluate_rules(alert_context(ctx.warehouse, ctx.snapshot), rules, ctx.snapshot)
    for error in [*rules.errors, *result.errors]:
        log.warning("alerts.rule_skipped", problem=str(error))
    return result.table


def earlier_alerts(ctx: RunContext) -> ir.Table | None:
    """The alerts stored for days before the snapshot (None before the first run)."""
    if not ctx.warehouse.has_table("alerts"):
        return None
    stored = ctx.warehouse.table("alerts")
    return stored.filter(stored.snapshot_date < ctx.snapshot)


def alerts_step(ctx: RunContext) -> ir.Table:
    """Alert and care rules fired on the snapshot, once per subscriber, rule and period."""
    return fired_once(fired_alerts(ctx), earlier_alerts(ctx))


def _earlier_actions(ctx: RunContext) -> ir.Table | None:
    if not ctx.warehouse.has_table("decisions"):
        return None
    stored = ctx.warehouse.table("decisions")
    return stored.filter((stored.snapshot_date < ctx.snapshot) & stored.action)


def with_online_grants(ctx: RunContext, granted: ir.Table | None) -> ir.Table | None:
    """The earlier grants with the offers granted at once for real-time events up to the
    snapshot (``ops_online_grants``, collected): they count against the budgets, value caps
    and entry limits like the daily ones."""
    if not ctx.warehouse.has_table(GRANTS_TABLE):
        return granted
    online = ctx.warehouse.table(GRANTS_TABLE)
    online = online.filter(online.granted_on <= ctx.snapshot).select(
        subscriber_id=online.subscriber_id.cast("string"),
        policy_id=online.policy_id.cast("string"),
        granted_on=online.granted_on.cast("date"),
        cost=online.cost.cast("float64"),
    )
    if granted is None:
        return online
    daily = granted.select(
        subscriber_id=granted.subscriber_id.cast("string"),
        policy_id=granted.policy_id.cast("string"),
        granted_on=granted.granted_on.cast("date"),
        cost=granted.cost.cast("float64"),
    )
    return daily.union(online, distinct=False)


def learned_uplift(ctx: RunContext, config: DecideConfig) -> UpliftModel | None:
    """Each customer's uplift per offer type, learned from the outcomes closed before the
    snapshot (weiwan's own decisions and the delivered earlier campaigns), if any: over the
    3-month outcome window, else — too few of those windows closed yet, as in the first months
    of an operator without campaign history — over the first month of the decisions since,
    which a cold start has two months sooner."""
    registry = ctx.registry
    if registry is None or registry.promoted() is None:
        return None
    model, meta = registry.load()
    for window in (OUTCOME_MONTHS, EARLY_WINDOW_MONTHS):
        # the controls counted before any evidence is explained: the window not taken would
        # otherwise explain and keep its days, and the other one explain its own again
        rows = closed_outcomes(ctx.warehouse, ctx.snapshot, window)
        if not enough_controls(rows):
            controls, churners = held_out(rows)
            log.info(
                "uplift.too_few_controls",
                rows=len(rows),
                controls=controls,
                control_churners=churners,
                window_months=window,
            )
            continue
        learned = _learned_over(ctx, config, model, meta, rows, window)
        if learned is not None:
            for item in learned.levels():
                log.info("uplift.learned", trees=learned.trees, **item)
            warn_offers_without_effect(ctx, learned)
            return learned
    return None


#: the shorter outcome window learned from while too few 3-month windows have closed
EARLY_WINDOW_MONTHS = 1


def _learned_over(
    ctx: RunContext,
    config: DecideConfig,
    model: Any,
    meta: ModelMeta,
    rows: pd.DataFrame,
    window: int,
) -> UpliftModel | None:
    """The uplift learned from the outcomes ``rows`` closed over ``window`` months (None: too
    few of them found with their features)."""
    built = uplift_evidence(ctx.warehouse, rows, model, meta)
    if built is None:
        return None
    evidence, features = built
    drivers = reason_drivers(evidence, config)
    mixer = LeavingMixer.of(model, meta) if config.use_leaving_reasons else None
    # each evidence customer's reasons for leaving as their features on the day of the offer
    mix = leaving_mix(mixer.columns(features), config) if mixer is not None else None
    evidence["prior"] = prior_uplift(evidence["offer_type"], drivers, config, mix)
    learned = learn_uplift(evidence, features, categories=model.categories_, window_months=window)
    if learned is None:
        log.info("uplift.too_few_controls", rows=len(evidence), window_months=window)
    return learned


def warn_offers_without_effect(ctx: RunContext, learned: UpliftModel) -> None:
    """Warn when the outcomes show some offer types cutting no churn: the decisions then grant
    them to (almost) no one and learn nothing more of them from their own hold-outs, so only
    an arm deciding by the priors (or the operator's own campaigns with a control group) can
    show where they do work."""
    types = learned.without_effect()
    if not types:
        return
    offered = sum(learned.offers[name].treated for name in types)
    levels = ", ".join(f"{name} {learned.offers[name].scale:.3f}" for name in types)
    ctx.warn(
        "uplift.no_effect_shown",
        f"the outcomes of {offered:,} customers offered {', '.join(types)} and "
        f"{learned.controls:,} held out show no cut in churn from them (the level of their "
        f"prior the comparisons allow: {levels}): the decisions value them at nothing and "
        "grant them to almost no one, and learn no more of them from their hold-outs; to keep "
        "learning where they work, give a challenger arm that decides by the priors a small "
        "share in decide.yaml (strategies: arms: explore: {share: 0.05, uplift: prior})",
        offer_types=types,
    )


def _check_policies(ctx: RunContext, library: PolicyLibrary) -> None:
    """Warn when no policy may be offered on the snapshot, or policies are past review."""
    day = ctx.snapshot
    if not any(p.is_active(day) for p in library.policies):
        ctx.warn(
            "policies.none_valid",
            f"no retention policy is approved and valid on {day} in {library.source}: "
            "subscribers at risk get no offer today (check valid_from / valid_to and approval)",
            snapshot=str(day),
        )
    overdue = [p.id for p in library.policies if p.is_active(day) and p.review_overdue(day)]
    if overdue:
        ctx.warn(
            "policies.review_overdue",
            f"retention policies past their review date (review_by) on {day}: "
            f"{', '.join(overdue)}; they are still offered; review them in {library.source}",
            snapshot=str(day),
        )


@dataclass(frozen=True, slots=True)
class DecisionInputs:
    """Everything :func:`~weiwan.analytics.decide.day.decide_day` takes for the snapshot."""

    day: DayInputs
    library: PolicyLibrary
    contact_policy: ContactPolicy
    config: DecideConfig
    learned: UpliftModel | None


def decision_inputs(ctx: RunContext) -> DecisionInputs | None:
    """The decisions step's inputs: the profile and the day's alerts, the policy library
    (checked, its problems logged and warned), earlier actions as grants and contacts, the
    do-not-disturb list, the objections of the consent ledger, the contact policy, the decide
    config and the learned uplift. None,
    with a run warning, when no subscriber has a churn score (no model)."""
    warehouse, snapshot = ctx.warehouse, ctx.snapshot
    profile = load_profile(warehouse, snapshot)
    if "churn_probability" not in profile.columns:
        ctx.warn(
            "decisions.no_scores",
            f"no decisions for {snapshot}: no subscriber has a churn score (no model)",
        )
        return None
    paths = ctx.rule_documents
    library = load_policies(
        paths.policies if paths else None,
        profile=profile,
        target_groups=load_target_groups(paths.target_groups if paths else None),
    )
    for issue in library.errors:
        log.warning("policies.refused", problem=str(issue))
    for issue in library.warnings:
        log.warning("policies.more_generous", problem=str(issue))
    _check_policies(ctx, library)
    config = load_decide_config(paths.decide if paths else None)
    day = replace(day_inputs(ctx, profile), leaving=leaving_mixer(ctx, config))
    return DecisionInputs(
        day=day,
        library=library,
        contact_policy=load_contact_policy(
            ctx.rule_documents.contact_policy if ctx.rule_documents else None
        ),
        config=config,
        learned=learned_uplift(ctx, config),
    )


def day_inputs(ctx: RunContext, profile: ir.Table) -> DayInputs:
    """The day's facts the decisions are made from, beside ``profile`` (the snapshot's): its
    alerts, earlier actions as grants and contacts (with the real-time grants), the
    do-not-disturb list, the consent ledger's objections and the rules' names."""
    warehouse, snapshot = ctx.warehouse, ctx.snapshot
    actions = _earlier_actions(ctx)
    granted = history = None
    if actions is not None:
        offers = actions.filter(actions.policy_id.notnull())
        granted = offers.select(
            "subscriber_id", "policy_id", granted_on=offers.snapshot_date, cost=offers.cost
        )
    granted = with_online_grants(ctx, granted)
    if actions is not None:
        history = actions.select(
            "subscriber_id",
            "channel",
            contacted_at=actions.snapshot_date,
            outcome=ibis.null("string"),
        )
    dnd = warehouse.table(DND_TABLE) if warehouse.has_table(DND_TABLE) else None
    objections = (
        warehouse.table(OBJECTIONS_TABLE) if warehouse.has_table(OBJECTIONS_TABLE) else None
    )
    rules = load_rules(list(ctx.rule_documents.rule_files) if ctx.rule_documents else None)
    return DayInputs(
        profile=profile,
        alerts=snapshot_rows(warehouse, "alerts", snapshot),
        granted=granted,
        history=history,
        dnd=dnd,
        objections=objections,
        trigger_names={r.id: (r.name_zh, r.name_en) for r in rules.rules},
    )


def leaving_mixer(ctx: RunContext, config: DecideConfig) -> LeavingMixer | None:
    """The promoted churn model's leaving-reason classifier when it has one and decide.yaml
    or one of its strategy arms matches offers to it (``use_leaving_reasons``)."""
    registry = ctx.registry
    if not config.uses_leaving_reasons() or registry is None or registry.promoted() is None:
        return None
    return LeavingMixer.of(*registry.load())


def decide(
    ctx: RunContext, inputs: DecisionInputs, stage: StageTimer = nullcontext
) -> pd.DataFrame:
    """The snapshot's decisions from :func:`decision_inputs` in one frame; ``stage`` wraps each
    of decide_day's stages (e.g. a benchmark's timer; by default it does nothing)."""
    parts = list(decide_parts(ctx, inputs, stage))
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return frame.sort_values("subscriber_id").reset_index(drop=True)


def decide_parts(
    ctx: RunContext, inputs: DecisionInputs, stage: StageTimer = nullcontext
) -> Iterator[pd.DataFrame]:
    """The snapshot's decisions in bounded parts (``WEIWAN_DECISION_CHUNK_SUBSCRIBERS``), each
    with its ``snapshot_date``."""
    for part in decide_day_parts(
        inputs.day,
        inputs.library,
        inputs.contact_policy,
        inputs.config,
        ctx.snapshot,
        learned=inputs.learned,
        stage=stage,
        chunk_subscribers=get_settings().decision_chunk_subscribers,
    ):
        part["snapshot_date"] = ctx.snapshot
        yield part


#: the stored decisions' columns (:data:`DECISION_SCHEMA` and the snapshot date) in Arrow
DECISIONS_ARROW = pa.schema(
    [
        pa.field(
            name,
            pa.bool_() if kind == "bool" else pa.float64() if kind == "float64" else pa.string(),
        )
        for name, kind in DECISION_SCHEMA.items()
    ]
    + [pa.field("snapshot_date", pa.date32())]
)


def decisions_step(ctx: RunContext) -> ir.Table | None:
    """At most one action per subscriber for the snapshot's day (see analytics.decide),
    handed to the store part by part."""
    inputs = decision_inputs(ctx)
    if inputs is None:
        return None
    batches = (
        pa.RecordBatch.from_pandas(part, schema=DECISIONS_ARROW, preserve_index=False)
        for part in decide_parts(ctx, inputs)
    )
    decided = ctx.warehouse.from_batches(batches, DECISIONS_ARROW)
    ctx.shadow_prices = inputs.day.shadow_prices  # filled: the batches were consumed
    ctx.uplift_levels = inputs.learned.levels() if inputs.learned is not None else []
    return decided


def limit_prices_step(ctx: RunContext) -> ir.Table | None:
    """The decisions' shadow prices (``limit_prices``, one row per binding limit; limit_kind:
    policy_count, policy_money or channel; limit_name: the policy id or channel; yuan: the
    expected value one more grant, yuan of budget or contact that day would add); None when
    no limit bound."""
    if not ctx.shadow_prices:
        return None
    ordered = sorted(ctx.shadow_prices.items())
    rows = pa.table(
        {
            "limit_kind": pa.array([kind for (kind, _), _ in ordered], pa.string()),
            "limit_name": pa.array([name for (_, name), _ in ordered], pa.string()),
            "yuan": pa.array([round(price, 2) for _, price in ordered], pa.float64()),
            "snapshot_date": pa.array([ctx.snapshot] * len(ordered), pa.date32()),
        }
    )
    return ibis.memtable(rows)


#: each offer type's learned level, as stored (``uplift_levels``)
UPLIFT_LEVELS_ARROW = pa.schema(
    [
        ("offer_type", pa.string()),
        ("level", pa.float64()),
        ("scale", pa.float64()),
        ("tree_weight", pa.float64()),
        ("prior_uplift", pa.float64()),
        ("mean_uplift", pa.float64()),
        ("persistence", pa.float64()),
        ("window_months", pa.int64()),
        ("treated", pa.int64()),
        ("treated_churned", pa.int64()),
        ("controls", pa.int64()),
        ("controls_churned", pa.int64()),
        ("snapshot_date", pa.date32()),
    ]
)


def uplift_levels_step(ctx: RunContext) -> ir.Table | None:
    """What the outcomes closed by the snapshot taught the decisions, one row per offer type
    learned (``uplift_levels``: its level of the prior, the evidence behind it); None while
    every offer is valued by its prior."""
    if not ctx.uplift_levels:
        return None
    rows = [{**row, "snapshot_date": ctx.snapshot} for row in ctx.uplift_levels]
    return ibis.memtable(pa.Table.from_pylist(rows, schema=UPLIFT_LEVELS_ARROW))


#: the champion–challenger evaluation, as stored (``strategy_arms``)
STRATEGY_ARMS_ARROW = pa.schema(
    [
        pa.field(
            name,
            {
                "bool": pa.bool_(),
                "float64": pa.float64(),
                "int64": pa.int64(),
                "date": pa.date32(),
            }.get(kind, pa.string()),
        )
        for name, kind in ARM_COLUMNS.items()
    ]
    + [pa.field("snapshot_date", pa.date32())]
)


def strategy_arms_step(ctx: RunContext) -> ir.Table | None:
    """Each strategy arm's churn against its hold-out and the champion, on the decisions whose
    outcome window has closed (see analytics.strategy_evaluation); None before any decision
    recorded an arm."""
    paths = ctx.rule_documents
    config = load_decide_config(paths.decide if paths else None)
    frame = strategy_evaluation(ctx.warehouse, ctx.snapshot, config.strategies)
    if frame is None:
        return None
    frame["snapshot_date"] = ctx.snapshot
    return ibis.memtable(pa.Table.from_pandas(frame, STRATEGY_ARMS_ARROW, preserve_index=False))
