"""The day's run: triggers, hold-out, candidates, valuation, arbitration and care actions,
giving one decision row per subscriber (:data:`DECISION_COLUMNS`).

The consent ledger's objections (``DayInputs.objections``, collected from the operational side)
apply here too. An objection to a contact channel leaves out the offers on that channel (the
contact policy's ``objection``) and a care action by call to a subscriber who objects to
calls; a care SMS is a service notice, which an objection to marketing SMS lets through. A
subscriber who refuses personalised automated decisions (Article 24 PIPL) gets no decision at
all: their retention and care triggers are recorded with the outcome ``objection``, no offer,
no action, outside the hold-out and the strategy arms (so no experiment counts them). What
they get instead: only what they ask for themselves (hotline, store, self-service) and
service notices (docs/privacy.md).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from tempfile import TemporaryDirectory

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from weiwan.analytics.churn.leaving_reasons import LeavingMixer
from weiwan.analytics.contact_policy import CHANNELS, ContactPolicy
from weiwan.analytics.decide.allocation import solve_allocation
from weiwan.analytics.decide.arbitration import arbitrate, decision_rows, prejudged
from weiwan.analytics.decide.config import in_holdout
from weiwan.analytics.decide.strategies import arm_budgets, arm_capacity, draw_arms
from weiwan.analytics.policies import PolicyLibrary, eligibility, remaining_budgets
from weiwan.analytics.profile import subscriber_features
from weiwan.analytics.uplift import UpliftModel
from weiwan.analytics.warehouse import EVERYONE, SubscriberRange, empty_table, id_ranges
from weiwan.core.consent_rules import MARKETING_ONLY, PURPOSE_CHANNELS, Purpose
from weiwan.core.decide_rules import DRIVER_NAMES, DecideConfig
from weiwan.core.logging import get_logger
from weiwan.core.offer_valuation import (
    LEARNED_PERSISTENCE,
    LEARNED_WINDOW,
    REASON_COLUMNS,
    below_hurdle,
    candidate_prior,
    score_candidates,
)

log = get_logger(__name__)

CARE_CHANNELS = {
    "sms_care": "sms",
    "outbound_call": "outbound_call",
    "account_manager_call": "account_manager_call",
    "store_callback": "store",
}
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
#: the decisions table, column → type (pandas dtype)
DECISION_SCHEMA: dict[str, str] = {
    "subscriber_id": "string",
    "trigger": "string",
    "trigger_kind": "string",
    "holdout": "bool",
    "action": "bool",
    "outcome": "string",
    "policy_id": "string",
    "offer_type": "string",
    "channel": "string",
    "churn_probability": "float64",
    "driver": "string",
    "uplift": "float64",
    "value_saved": "float64",
    "cost": "float64",
    "expected_value": "float64",
    "alt_1_policy_id": "string",
    "alt_1_expected_value": "float64",
    "alt_1_why_not": "string",
    "alt_2_policy_id": "string",
    "alt_2_expected_value": "float64",
    "alt_2_why_not": "string",
    "why_zh": "string",
    "why_en": "string",
    #: the strategy arm (champion–challenger) that decided for the subscriber
    "strategy": "string",
}
WHY_NOT_NAMES = {
    "lower_value": ("预期价值更低", "lower expected value"),
    "budget": ("预算用尽", "budget used up"),
    "capacity": ("渠道能力已满", "channel at capacity"),
    "value_cap": ("超出客户价值上限", "over the value cap"),
    "not_worth_it": ("预期价值为负", "not worth its cost"),
}
#: the outcome of a trigger the consent ledger's objections stop
OBJECTION = "objection"
#: a retention trigger's flag: it had candidates, none above the hurdle (``below_hurdle``)
_UNWORTHY = "_unworthy"
OUTCOME_NAMES = {
    "granted": ("今日执行", "act today"),
    "holdout": ("对照组，不接触", "hold-out, no contact"),
    "no_eligible_policy": ("无可用政策", "no eligible policy"),
    OBJECTION: ("客户已拒绝（个人信息保护法）", "the customer objected (PIPL)"),
    **WHY_NOT_NAMES,
    # a care action a contact rule stops today (core.contact_rules.BLOCK_REASONS)
    "dnd": ("客户要求免打扰", "the customer asked not to be disturbed"),
    "cool_off": ("客户近期拒绝，处于冷静期", "refused recently (cool-off)"),
    "cap_day": ("已达每日接触上限", "daily contact cap reached"),
    "cap_week": ("已达每周接触上限", "weekly contact cap reached"),
    "cap_month": ("已达每月接触上限", "monthly contact cap reached"),
    "cross_channel_cap": ("已达跨渠道接触上限", "cross-channel contact cap reached"),
    "unknown_channel": ("未知渠道", "unknown channel"),
}
DECISION_COLUMNS = tuple(DECISION_SCHEMA)


@dataclass
class DayInputs:
    """What one day's decisions are made from (Ibis tables over the warehouse)."""

    profile: ir.Table
    alerts: ir.Table  # the day's fired rules (alerts.ALERT_SCHEMA)
    granted: ir.Table | None = None  # subscriber_id, policy_id, granted_on, cost
    history: ir.Table | None = None  # subscriber_id, channel, contacted_at, outcome
    dnd: ir.Table | None = None  # subscriber_id, channel
    #: the consent ledger's current objections: subscriber_id, purpose, channel
    objections: ir.Table | None = None
    #: rule id -> (Chinese, English) name of the alert and care rules, for the explanations
    trigger_names: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: the churn model's leaving-reason classifier (offers matched to why each subscriber
    #: would leave), None when the model has none
    leaving: LeavingMixer | None = None
    #: filled by the arbitration: the shadow price (yuan of expected value) of one more unit of
    #: each binding limit, ("policy_count" | "policy_money" | "channel", policy id or channel)
    shadow_prices: dict[tuple[str, str], float] = field(default_factory=dict)


def _triggers(inputs: DayInputs, config: DecideConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(retention triggers, care triggers): one primary retention trigger per subscriber
    (risk before alerts, then by severity) and one care trigger per subscriber."""
    profile, alerts = inputs.profile, inputs.alerts
    risky = profile.filter(profile.risk_band.isin(config.risk_bands)).select(
        subscriber_id=profile.subscriber_id.cast("string"),
        trigger=ibis.literal("risk"),
        trigger_kind=ibis.literal("risk"),
        severity=ibis.literal("high"),
        action_hint=ibis.null("string"),
    )
    fired = alerts.select("subscriber_id", "rule_id", "kind", "severity", "action_hint")
    alerting = fired.filter(
        (fired.kind == "alert") & fired.severity.isin(config.retention_alert_severities)
    ).select(
        "subscriber_id",
        trigger=fired.rule_id,
        trigger_kind=ibis.literal("alert"),
        severity=fired.severity,
        action_hint=fired.action_hint,
    )
    retention = ibis.union(risky, alerting, distinct=False).to_pandas()
    retention["_rank"] = retention["severity"].map(SEVERITY_RANK).fillna(9)
    retention.loc[retention["trigger"] == "risk", "_rank"] = -1
    retention = retention.sort_values(["subscriber_id", "_rank", "trigger"], kind="mergesort")
    retention = retention.drop_duplicates("subscriber_id").drop(columns="_rank")
    care = fired.filter(fired.kind == "care").to_pandas()
    care["_rank"] = care["severity"].map(SEVERITY_RANK).fillna(9)
    care = care.sort_values(["subscriber_id", "_rank", "rule_id"], kind="mergesort")
    care = care.drop_duplicates("subscriber_id").drop(columns="_rank")
    care = care.rename(columns={"rule_id": "trigger"}).assign(trigger_kind="care")
    return retention.reset_index(drop=True), care.reset_index(drop=True)


def _held_out(frame: pd.DataFrame, config: DecideConfig) -> pd.Series:
    if frame.empty:
        return pd.Series([], dtype=bool)
    table = ibis.memtable(frame[["subscriber_id", "trigger"]].reset_index())
    parts = []
    for trigger in sorted(frame["trigger"].unique()):
        rows = table.filter(table.trigger == trigger)
        share = config.holdout_share(str(trigger))
        parts.append(rows.select("index", held=in_holdout(rows.subscriber_id, trigger, share)))
    flags: pd.Series = ibis.union(*parts).to_pandas().set_index("index")["held"]
    held: pd.Series = flags.reindex(frame.index).fillna(False).astype(bool)
    return held


def _candidates(
    retention: pd.DataFrame,
    inputs: DayInputs,
    library: PolicyLibrary,
    contact: ContactPolicy,
    config: DecideConfig,
    day: date,
) -> pd.DataFrame:
    """Every (subscriber, eligible policy, permitted channel) of the retention triggers."""
    wanted = ibis.memtable(retention.loc[~retention[OBJECTION], ["subscriber_id"]])
    frame: pd.DataFrame = permitted_offers(
        inputs, library, contact, config, day, wanted
    ).to_pandas()
    return frame


def permitted_offers(
    inputs: DayInputs,
    library: PolicyLibrary,
    contact: ContactPolicy,
    config: DecideConfig,
    day: date,
    wanted: ir.Table | None = None,
) -> ir.Table:
    """Every (subscriber, policy, channel) the operator's rules allow on ``day``: the policy's
    eligibility and entry limits (given the earlier grants), its channels (an account manager's
    call only for managed customers of the configured tiers) and the contact rules (do not
    disturb, objections, cool-off, caps); with the facts the scoring reads. Of the subscribers
    ``wanted`` (a ``subscriber_id`` table), else of everyone who does not object to automated
    decisions."""
    profile = inputs.profile
    pairs = eligibility(
        profile, library.policies, day, granted=inputs.granted, target_groups=library.target_groups
    )
    if wanted is not None:
        pairs = pairs.semi_join(wanted, "subscriber_id")
    elif inputs.objections is not None:
        pairs = pairs.anti_join(_automated_objectors(inputs.objections), "subscriber_id")
    channel_rows = [
        (p.id, p.offer_type, p.total_cost(), p.commitment_months, c)
        for p in library.policies
        for c in p.channels
    ]
    columns = ["policy_id", "offer_type", "offer_cost", "commitment_months", "channel"]
    offers = ibis.memtable(pd.DataFrame(channel_rows, columns=columns))
    cand = pairs.join(offers, "policy_id")
    facts = profile.select(
        subscriber_id=profile.subscriber_id.cast("string"),
        churn_probability=profile.churn_probability.cast("float64"),
        value=profile.future_value.cast("float64"),
        arpu=profile.arpu_1m.cast("float64"),
        reason_feature=profile.reason_1_feature.cast("string"),
        reason_feature_2=_optional_string(profile, "reason_2_feature"),
        reason_feature_3=_optional_string(profile, "reason_3_feature"),
        value_tier=profile.value_tier.cast("string"),
        has_account_manager=profile.has_account_manager.cast("boolean"),
        join_channel=_optional_string(profile, "join_channel"),
    )
    cand = cand.join(facts, "subscriber_id")
    managed = cand.value_tier.isin(config.account_manager_tiers) & cand.has_account_manager
    cand = cand.filter((cand.channel != "account_manager_call") | managed.fill_null(False))
    explained = contact.explain_contacts(cand, _history(inputs), inputs.dnd, day, inputs.objections)
    return explained.filter(explained.blocked_reason.isnull()).drop("blocked_reason")


def _optional_string(table: ir.Table, column: str) -> ir.Value:
    """``table``'s ``column`` as a string, or a null one where the table has no such column."""
    return table[column].cast("string") if column in table.columns else ibis.null("string")


def _history(inputs: DayInputs) -> ir.Table:
    """The contact history the contact rules count (an empty one when none is known)."""
    if inputs.history is not None:
        return inputs.history
    return empty_table(
        {
            "subscriber_id": "string",
            "channel": "string",
            "contacted_at": "date",
            "outcome": "string",
        }
    )


#: a stage timer: called with a stage's name, it returns the context manager the stage runs in
StageTimer = Callable[[str], AbstractContextManager[object]]
#: the stages of :func:`decide_day`, in the order they run (a stage with nothing to do is
#: skipped); with several chunks of subscribers the first five run once per chunk, then the
#: arbitration and the care actions once, then the last four once per chunk
DAY_STAGES = (
    "triggers",
    "holdout",
    "candidates",
    "scoring",
    "budgets_and_value_room",
    "arbitration",
    "care_actions",
    "decision_rows",
    "retention_outcomes",
    "explanations",
    "types_and_order",
)
#: triggered subscribers decided together in one chunk (bounds the day's memory)
CHUNK_SUBSCRIBERS = 250_000


def _no_timer(stage: str) -> AbstractContextManager[object]:
    """The default stage timer: times nothing."""
    return nullcontext()


def decide_day(
    inputs: DayInputs,
    library: PolicyLibrary,
    contact: ContactPolicy,
    config: DecideConfig,
    day: date,
    *,
    learned: UpliftModel | None = None,
    stage: StageTimer = _no_timer,
    chunk_subscribers: int = CHUNK_SUBSCRIBERS,
) -> pd.DataFrame:
    """The day's decisions: one row per subscriber with a retention or care trigger
    (:data:`DECISION_COLUMNS`). ``action`` marks what is to be done today; hold-out rows keep
    the offer they would have had (``action`` False, ``outcome`` "holdout"). ``learned``
    gives each customer's uplift of the offer types it learned (see analytics.uplift) in place
    of their prior. ``stage``
    wraps each of :data:`DAY_STAGES` (e.g. a benchmark's timer); by default it does nothing.
    All rows in one frame: :func:`decide_day_parts` gives them in bounded parts."""
    parts = list(
        decide_day_parts(
            inputs,
            library,
            contact,
            config,
            day,
            learned=learned,
            stage=stage,
            chunk_subscribers=chunk_subscribers,
        )
    )
    if len(parts) == 1:
        return parts[0]
    whole = pd.concat(parts, ignore_index=True).astype(DECISION_SCHEMA)
    return whole.sort_values("subscriber_id").reset_index(drop=True)


@dataclass
class _Chunk:
    """What the first pass keeps of one chunk of subscribers for the last."""

    retention: pd.DataFrame  # the chunk's retention triggers, with ``holdout``
    #: the chunk's candidates that the arbitration does not see: held-out subscribers' (why_not
    #: NA) and those that can never be granted (why_not set), ``granted`` False
    settled: pd.DataFrame
    scored: bool  # whether the chunk had any scored candidate


def decide_day_parts(
    inputs: DayInputs,
    library: PolicyLibrary,
    contact: ContactPolicy,
    config: DecideConfig,
    day: date,
    *,
    learned: UpliftModel | None = None,
    stage: StageTimer = _no_timer,
    chunk_subscribers: int = CHUNK_SUBSCRIBERS,
) -> Iterator[pd.DataFrame]:
    """:func:`decide_day`'s rows in parts, each sorted by subscriber, so that memory stays
    bounded as subscribers grow (the same rows, whatever the chunk size).

    Subscribers are split into chunks of about ``chunk_subscribers`` triggered ones (by ranges
    of their id). Everything but the arbitration and the care actions is decided subscriber by
    subscriber, so it runs chunk by chunk; the arbitration across the whole population under
    the budgets and channel capacities sees only the candidates that could be granted (a
    positive expected value within the value cap: a few percent of them), the care actions
    only the care triggers. The first pass keeps each chunk's other rows on disk (in a private
    temporary directory) when there are several chunks, and the last pass finishes each chunk.
    """
    chunks = _chunks(inputs, config, chunk_subscribers)
    left: dict[str, int | None] = {c: contact.batch_capacity(c, day) for c in CHANNELS}
    with ExitStack() as cleanup:
        spill = Path(cleanup.enter_context(TemporaryDirectory(prefix="weiwan-decide-")))
        kept: list[_Chunk | Path] = []
        live: list[pd.DataFrame] = []
        cares: list[pd.DataFrame] = []
        for index, within in enumerate(chunks):
            part = _chunk_inputs(inputs, within)
            chunk, chunk_live, care = _first_pass(
                part, library, contact, config, day, learned, stage
            )
            live.append(chunk_live)
            cares.append(care)
            if len(chunks) == 1:
                kept.append(chunk)
            else:
                path = spill / f"chunk-{index}.pickle"
                with path.open("wb") as sink:  # our own file, read back below: pickle is exact
                    pickle.dump(chunk, sink, protocol=pickle.HIGHEST_PROTOCOL)
                kept.append(path)
        arbitrated = pd.DataFrame()
        if any(isinstance(k, Path) or k.scored for k in kept):
            with stage("arbitration"):
                arbitrated = _arbitrate(live, inputs, library, left, day, config)
        granted = arbitrated[arbitrated["granted"]] if len(arbitrated) else arbitrated
        if len(granted):
            for channel, used in granted.groupby("channel").size().items():
                cap = left.get(str(channel))
                left[str(channel)] = None if cap is None else cap - int(used)
        with stage("care_actions"):
            busy = pd.DataFrame(
                {"subscriber_id": granted.get("subscriber_id", pd.Series(dtype=object))}
            ).assign(action=True)
            care = pd.concat(cares, ignore_index=True) if cares else pd.DataFrame()
            objected = _objected_channels(inputs, care)
            blocked = _blocked_care(inputs, contact, day, care)
            care_rows = _care_actions(
                care, busy, left, profile=inputs.profile, objected=objected, blocked=blocked
            )
        names = Names.of(inputs, library)
        for index, kept_chunk in enumerate(kept):
            chunk = kept_chunk if isinstance(kept_chunk, _Chunk) else _read_back(kept_chunk)
            last = index == len(kept) - 1
            yield _last_pass(chunk, arbitrated, care_rows if last else None, stage, names)


def _read_back(path: Path) -> _Chunk:
    """A chunk the first pass wrote to the run's private temporary directory."""
    with path.open("rb") as source:
        chunk: _Chunk = pickle.load(source)
    path.unlink()
    return chunk


def _chunks(
    inputs: DayInputs, config: DecideConfig, chunk_subscribers: int
) -> list[SubscriberRange]:
    """Ranges of subscriber id holding about ``chunk_subscribers`` triggered subscribers each
    (at least one range). Ranges, not a hash of the id: the profile is stored in ranges of id,
    so a chunk reads its own rows instead of filtering the whole profile again."""
    if chunk_subscribers < 1:
        raise ValueError(f"chunk_subscribers must be at least 1, not {chunk_subscribers}")
    profile, alerts = inputs.profile, inputs.alerts
    risky = profile.filter(profile.risk_band.isin(config.risk_bands))
    triggered = ibis.union(
        risky.select(subscriber_id=risky.subscriber_id.cast("string")),
        alerts.select(subscriber_id=alerts.subscriber_id.cast("string")),
        distinct=True,
    )
    return id_ranges(triggered, chunk_subscribers)


def _chunk_inputs(inputs: DayInputs, part: SubscriberRange) -> DayInputs:
    """The day's inputs restricted to the subscribers of ``part``."""
    if part == EVERYONE:
        return inputs
    return replace(inputs, profile=part.rows(inputs.profile), alerts=part.rows(inputs.alerts))


def _first_pass(
    inputs: DayInputs,
    library: PolicyLibrary,
    contact: ContactPolicy,
    config: DecideConfig,
    day: date,
    learned: UpliftModel | None,
    stage: StageTimer,
) -> tuple[_Chunk, pd.DataFrame, pd.DataFrame]:
    """One chunk's triggers, hold-out, candidates and their values; (what the last pass needs,
    the candidates the arbitration weighs, the care triggers)."""
    with stage("triggers"):
        retention, care = _triggers(inputs, config)
        refusing = _refusing(inputs, [retention, care])
        retention[OBJECTION] = retention["subscriber_id"].isin(refusing).to_numpy(dtype=bool)
        care[OBJECTION] = care["subscriber_id"].isin(refusing).to_numpy(dtype=bool)
    with stage("holdout"):
        retention["holdout"] = _held_out(retention, config).to_numpy()
        care["holdout"] = _held_out(care, config).to_numpy()
        retention["strategy"] = draw_arms(retention["subscriber_id"], config.strategies)
        care["strategy"] = draw_arms(care["subscriber_id"], config.strategies)
        for frame in (retention, care):  # outside every experiment
            frame.loc[frame[OBJECTION], "holdout"] = False
            frame["strategy"] = frame["strategy"].astype(object).mask(frame[OBJECTION], pd.NA)
    with stage("candidates"):
        candidates = (
            _candidates(retention, inputs, library, contact, config, day)
            if (~retention[OBJECTION]).any() and library.policies
            else pd.DataFrame()
        )
    with stage("scoring"):
        scored, unworthy = _score_by_arm(
            candidates, retention, inputs.profile, learned, config, inputs.leaving
        )
        retention[_UNWORTHY] = retention["subscriber_id"].astype(str).isin(unworthy).to_numpy()
    if not len(scored):
        return _Chunk(retention, scored, scored=False), scored, care
    with stage("budgets_and_value_room"):
        scored = scored.assign(granted=False)
        held_out = set(retention.loc[retention["holdout"], "subscriber_id"])
        held = scored["subscriber_id"].isin(held_out)
        why_not = prejudged(scored, _value_room(inputs, library))
        why_not[held] = pd.NA  # held out: kept as it would have been, never judged
        scored["why_not"] = why_not
        weighed = ~held & scored["why_not"].isna()
    return _Chunk(retention, scored[~weighed], scored=True), scored[weighed], care


def _refusing(inputs: DayInputs, frames: list[pd.DataFrame]) -> set[str]:
    """The subscribers of ``frames`` who object to personalised automated decisions."""
    objections = inputs.objections
    ids = sorted({str(sid) for frame in frames for sid in frame["subscriber_id"]})
    if objections is None or not ids:
        return set()
    wanted = ibis.memtable(pd.DataFrame({"subscriber_id": ids}))
    found = _automated_objectors(objections).semi_join(wanted, "subscriber_id").to_pandas()
    return set(found["subscriber_id"])


def _automated_objectors(objections: ir.Table) -> ir.Table:
    """The subscribers (``subscriber_id``) of ``objections`` who object to personalised
    automated decisions."""
    refusing = objections.filter(objections.purpose == Purpose.AUTOMATED_DECISION.value)
    return refusing.select(subscriber_id=refusing.subscriber_id.cast("string"))


def _objected_channels(inputs: DayInputs, care: pd.DataFrame) -> set[tuple[str, str]]:
    """(subscriber, channel) of the care triggers' subscribers whose objection stops even a
    service contact on that channel (calls; an objection to marketing SMS does not)."""
    objections = inputs.objections
    if objections is None or care.empty:
        return set()
    channels = sorted(
        c for p, cs in PURPOSE_CHANNELS.items() if p not in MARKETING_ONLY for c in cs
    )
    wanted = ibis.memtable(pd.DataFrame({"subscriber_id": care["subscriber_id"].astype(str)}))
    rows = objections.filter(objections.channel.isin(channels)).select(
        subscriber_id=objections.subscriber_id.cast("string"),
        channel=objections.channel.cast("string"),
    )
    found = rows.semi_join(wanted.distinct(), "subscriber_id").to_pandas()
    return set(zip(found["subscriber_id"], found["channel"], strict=True))


def _score_by_arm(
    candidates: pd.DataFrame,
    retention: pd.DataFrame,
    profile: ir.Table,
    learned: UpliftModel | None,
    config: DecideConfig,
    leaving: LeavingMixer | None = None,
) -> tuple[pd.DataFrame, set[str]]:
    """The candidates valued by their subscriber's strategy arm (its settings, its policies,
    its uplift; matched to why each would leave where ``leaving`` tells), those below the
    arm's hurdle (``below_hurdle``: return on spend, value of a call) left out, in the
    candidates' order; and the subscribers who had candidates but none above the hurdle
    (their outcome is ``not_worth_it``, not ``no_eligible_policy``)."""
    if not len(candidates):
        return candidates, set()
    mix_columns: list[str] = []
    if leaving is not None and config.uses_leaving_reasons():
        mix = leaving.for_subscribers(profile, candidates["subscriber_id"])
        mix_columns = list(mix.columns)
        candidates = candidates.join(mix, on="subscriber_id")
    arms = retention.set_index("subscriber_id")["strategy"]
    candidates = candidates.assign(strategy=candidates["subscriber_id"].map(arms))
    parts = []
    dropped: set[str] = set()
    for arm in config.strategies.arms:
        rows = candidates[candidates["strategy"] == arm]
        spec = config.strategies.arms[arm]
        if spec.policies is not None:
            rows = rows[rows["policy_id"].isin(spec.policies)]
        if not len(rows):
            continue
        settings = config.for_arm(arm)
        if learned is not None and spec.uplift == "learned":
            rows = rows.assign(
                learned_uplift=customer_uplift(rows, profile, learned, settings),
                **{
                    LEARNED_PERSISTENCE: learned.persistence(rows["offer_type"]),
                    LEARNED_WINDOW: pd.Series(float(learned.window_months), index=rows.index),
                },
            )
        # the later reasons and the leaving reasons only weigh the offers' match: not carried
        # into the arbitration
        scored = score_candidates(rows, settings).drop(columns=[*REASON_COLUMNS[1:], *mix_columns])
        low = below_hurdle(scored, settings)
        parts.append(scored[~low])
        dropped.update(scored.loc[low, "subscriber_id"].astype(str))
    if not parts:
        return candidates.iloc[0:0], dropped
    kept = pd.concat(parts).sort_index() if len(parts) > 1 else parts[0]
    return kept, dropped - set(kept["subscriber_id"].astype(str))


def customer_uplift(
    candidates: pd.DataFrame, profile: ir.Table, learned: UpliftModel, config: DecideConfig
) -> pd.Series:
    """Each candidate's (subscriber_id, offer_type, churn_probability, reason_feature) learned
    relative uplift (NaN for offer types nothing was learned for), from its subscriber's
    features in the day's profile."""
    frame = subscriber_features(profile, candidates["subscriber_id"], learned.features)
    per_row = frame.reindex(candidates["subscriber_id"])
    per_row.index = candidates.index
    prior = candidate_prior(candidates, config)
    return learned.relative_uplift(
        per_row, candidates["offer_type"], candidates["churn_probability"].astype(float), prior
    )


def _arbitrate(
    live: list[pd.DataFrame],
    inputs: DayInputs,
    library: PolicyLibrary,
    left: dict[str, int | None],
    day: date,
    config: DecideConfig,
) -> pd.DataFrame:
    """The arbitration across every chunk's candidates that could be granted: in the order of
    the optimal allocation (``config.allocation``), else of their expected value."""
    weighed = [frame for frame in live if len(frame)]
    if not weighed:
        return pd.DataFrame()
    budgets = remaining_budgets(library.policies, inputs.granted, day).to_pandas()
    budgets = budgets.rename(columns={"remaining_count": "count", "remaining_money": "money"})
    # one order whatever the engine or the chunks gave: the solver's choice among equal optima
    # depends on it
    candidates = pd.concat(weighed, ignore_index=True).sort_values(
        ["subscriber_id", "policy_id", "channel"], kind="mergesort", ignore_index=True
    )
    parts = []
    by_arm_budgets = arm_budgets(budgets, config.strategies)
    by_arm_capacity = arm_capacity(left, config.strategies)
    champion = config.strategies.champion
    for arm in config.strategies.shares():
        rows = candidates[candidates["strategy"] == arm].reset_index(drop=True)
        if len(rows):
            prices = inputs if arm == champion else None  # the champion's prices are shown
            parts.append(
                _arbitrate_arm(
                    rows,
                    by_arm_budgets[arm],
                    by_arm_capacity[arm],
                    day,
                    config.for_arm(arm),
                    prices,
                )
            )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _arbitrate_arm(
    candidates: pd.DataFrame,
    budgets: pd.DataFrame,
    left: dict[str, int | None],
    day: date,
    config: DecideConfig,
    prices: DayInputs | None,
) -> pd.DataFrame:
    """One strategy arm's grants within its budgets and capacity; its shadow prices go to
    ``prices`` (when given)."""
    order = None
    if config.allocation == "optimal":
        capacity = {c: np.inf if n is None else float(n) for c, n in left.items()}
        solved = solve_allocation(candidates, budgets, capacity)
        if solved is not None:
            order = solved.share
            if prices is not None:
                prices.shadow_prices.update(solved.shadow_prices)
                for (kind, name), price in solved.shadow_prices.items():
                    log.info("allocation.shadow_price", limit=kind, name=name, yuan=round(price, 2))
    return arbitrate(candidates, budgets, left, order=order)


def _last_pass(
    chunk: _Chunk,
    arbitrated: pd.DataFrame,
    care_rows: pd.DataFrame | None,
    stage: StageTimer,
    names: Names,
) -> pd.DataFrame:
    """One chunk's decision rows: its arbitrated and settled candidates, its retention outcomes
    (and, in the last chunk, the care actions), explained and typed."""
    rows: list[pd.DataFrame] = []
    if chunk.scored:
        with stage("decision_rows"):
            weighed = None
            if len(arbitrated):
                weighed = arbitrated[
                    arbitrated["subscriber_id"].isin(chunk.retention["subscriber_id"])
                ]
            held = chunk.settled["why_not"].isna()
            in_play = pd.concat([weighed, chunk.settled[~held]], ignore_index=True)
            # the order the arbitration ranks in, so ties between equal values fall the same way
            in_play = in_play.sort_values(
                ["expected_value", "subscriber_id", "policy_id", "channel"],
                ascending=[False, True, True, True],
                kind="mergesort",
            )
            would_be = chunk.settled[held]
            rows.append(decision_rows(pd.concat([in_play, would_be], ignore_index=True)))
    with stage("retention_outcomes"):
        out = _retention_outcomes(chunk.retention, rows)
    if care_rows is not None:
        out = pd.concat([out, care_rows], ignore_index=True)
    with stage("explanations"):
        for column, dtype in DECISION_SCHEMA.items():
            if column not in out.columns:  # e.g. no candidate today: blank, of the column's type
                out[column] = pd.Series(None, index=out.index, dtype=dtype)
        out["why_zh"], out["why_en"] = _explain(out, names)
    with stage("types_and_order"):
        typed = out[list(DECISION_COLUMNS)].astype(DECISION_SCHEMA)  # all-blank columns typed
        return typed.sort_values("subscriber_id").reset_index(drop=True)


def _retention_outcomes(retention: pd.DataFrame, rows: list[pd.DataFrame]) -> pd.DataFrame:
    """The retention triggers with their decision rows, ``action`` and ``outcome``; a trigger
    without any candidate (no valid policy, none eligible) gets its outcome too."""
    decided = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame({"subscriber_id": []})
    decided["subscriber_id"] = decided["subscriber_id"].astype(retention["subscriber_id"].dtype)
    out = retention.merge(
        decided.drop(columns=["trigger", "trigger_kind", "holdout", "strategy"], errors="ignore"),
        on="subscriber_id",
        how="left",
    )
    granted = out["granted"] if "granted" in out else pd.Series(False, index=out.index)
    out["action"] = granted.astype("boolean").fillna(False).astype(bool) & ~out["holdout"]
    out["outcome"] = np.where(
        out[OBJECTION],
        OBJECTION,
        np.where(
            out["holdout"],
            "holdout",
            np.where(
                out["action"],
                "granted",
                out.get("why_not", pd.Series(pd.NA, index=out.index)).fillna(
                    pd.Series(
                        np.where(out[_UNWORTHY], "not_worth_it", "no_eligible_policy"),
                        index=out.index,
                    )
                ),
            ),
        ),
    )
    return out


@dataclass(frozen=True)
class Names:
    """(Chinese, English) names of the triggers (rule ids, ``risk``) and of the policies, so
    an explanation reads 流失风险：今日执行；充100送200 rather than codes."""

    triggers: dict[str, tuple[str, str]] = field(default_factory=dict)
    policies: dict[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def of(cls, inputs: DayInputs, library: PolicyLibrary) -> Names:
        """The names of the day's rules and of the library's policies."""
        return cls(
            triggers={"risk": RISK_TRIGGER_NAMES, **inputs.trigger_names},
            policies={p.id: (p.name_zh, p.name_en) for p in library.policies},
        )


#: the name of the churn-risk trigger
RISK_TRIGGER_NAMES = ("流失风险", "churn risk")


def _named(codes: pd.Series, names: dict[str, tuple[str, str]], lang: int) -> pd.Series:
    """Each code's name in ``lang`` (0 Chinese, 1 English); a code without one stays."""
    named = codes.astype(object).map({k: v[lang] for k, v in names.items()})
    # object throughout: an empty or all-blank column stays text, never float
    return named.fillna(codes.astype(object)).fillna("").astype(object)


def _explain(out: pd.DataFrame, names: Names | None = None) -> tuple[pd.Series, pd.Series]:
    """Why this offer and why not the next one, as one sentence in Chinese and in English,
    with the triggers' and policies' names (their codes when they have none)."""
    names = names or Names()
    texts = []
    for lang in (0, 1):
        outcome = out["outcome"].map({k: v[lang] for k, v in OUTCOME_NAMES.items()})
        outcome = outcome.fillna(out["outcome"].astype(str))
        driver = _named(out["driver"], DRIVER_NAMES, lang)
        value = _yuan(out["expected_value"])
        policy = _named(out["policy_id"], names.policies, lang)
        trigger = _named(out["trigger"], names.triggers, lang)
        head = trigger + ("：" if lang == 0 else ": ") + outcome
        if lang == 0:
            offer = "；" + policy + "（驱动：" + driver + "，预期价值 " + value + " 元）"
        else:
            offer = "; " + policy + " (driver: " + driver + ", expected value " + value
            offer = offer + " yuan)"
        text = head + offer.where(out["policy_id"].notna(), "")
        alt_why = out["alt_1_why_not"].map({k: v[lang] for k, v in WHY_NOT_NAMES.items()})
        alt_why = alt_why.fillna("")
        alternative = _named(out["alt_1_policy_id"], names.policies, lang)
        alt = ("；未选 " if lang == 0 else "; not ") + alternative
        alt = alt + ("：" if lang == 0 else ": ") + alt_why
        texts.append(text + alt.where(out["alt_1_policy_id"].notna(), ""))
    return texts[0], texts[1]


def _yuan(values: pd.Series) -> pd.Series:
    """Each value as ``f"{v:,.0f}"`` (blank for NA), formatted once per distinct whole number:
    the format rounds the double to the nearest integer, half to even, as ``np.rint`` does,
    so the rounded value formats the same (a sign kept on zero: ``-0``)."""
    numbers = values.astype(float).to_numpy()
    rounded = np.rint(numbers)
    codes, uniques = pd.factorize(rounded)  # NaN gets code -1; -0.0 and 0.0 share one code
    text = np.array([f"{v:,.0f}" for v in uniques] + [""], dtype=object)[codes]
    zero = rounded == 0
    text[zero] = np.where(np.signbit(rounded[zero]), "-0", "0")
    return pd.Series(text, index=values.index, dtype=object)


def _value_room(inputs: DayInputs, library: PolicyLibrary) -> pd.Series:
    """Yuan of retention spend each subscriber's value cap still allows (12-month window)."""
    profile = inputs.profile
    caps = profile.select(
        subscriber_id=profile.subscriber_id.cast("string"),
        cap=library.value_caps.cap_expression(profile),
    )
    if inputs.granted is not None and "cost" in inputs.granted.columns:
        granted = inputs.granted
        spent = granted.group_by(subscriber_id=granted.subscriber_id.cast("string")).aggregate(
            spent=granted.cost.cast("float64").sum()
        )
        caps = caps.left_join(spent, "subscriber_id").select(
            "subscriber_id", cap=caps.cap - spent.spent.fill_null(0.0)
        )
    frame = caps.to_pandas()
    room: pd.Series = frame.set_index("subscriber_id")["cap"].astype(float)
    return room


def _care_channel(care: pd.DataFrame) -> pd.Series:
    """The channel of each care trigger's action (its rule's action hint; SMS by default)."""
    return care["action_hint"].map(CARE_CHANNELS).fillna("sms")


def _blocked_care(
    inputs: DayInputs, contact: ContactPolicy, day: date, care: pd.DataFrame
) -> dict[tuple[str, str], str]:
    """(subscriber, channel) → the contact rule (``core.contact_rules.BLOCK_REASONS``) that
    stops each care trigger's action today: the caps, do-not-disturb and the cool-off apply to
    a care contact as to an offer (the operational side would refuse or flag it when made).
    Objections are left to :func:`_objected_channels`: a care SMS is a service notice they let
    through."""
    if care.empty:
        return {}
    pairs = pd.DataFrame(
        {"subscriber_id": care["subscriber_id"].astype(str), "channel": _care_channel(care)}
    ).drop_duplicates()
    explained = contact.explain_contacts(
        ibis.memtable(pairs), _history(inputs), inputs.dnd, day, objections=None
    )
    found = explained.filter(explained.blocked_reason.notnull()).to_pandas()
    return {
        (str(s), str(c)): str(r)
        for s, c, r in zip(
            found["subscriber_id"], found["channel"], found["blocked_reason"], strict=True
        )
    }


def _care_actions(
    care: pd.DataFrame,
    retention: pd.DataFrame,
    left: dict[str, int | None],
    *,
    profile: ir.Table,
    objected: set[tuple[str, str]] | None = None,
    blocked: dict[tuple[str, str], str] | None = None,
) -> pd.DataFrame:
    """One care action for each care trigger whose subscriber has no retention action today,
    within the capacity left, most severe first. A subscriber who refuses automated decisions,
    or objects to the action's channel (``objected``: calls), gets none (``objection``); nor
    does one a contact rule stops on that channel today (``blocked``: the outcome is the
    rule, e.g. ``dnd`` or ``cool_off``). Hold-outs stay hold-outs: they get no contact
    anyway."""
    if care.empty:
        return care
    busy = set(retention.loc[retention["action"], "subscriber_id"])
    rows = care[~care["subscriber_id"].isin(busy)].copy()
    rows["channel"] = _care_channel(rows)
    rows["_rank"] = rows["severity"].map(SEVERITY_RANK).fillna(9)
    rows = rows.sort_values(["_rank", "subscriber_id"], kind="mergesort")
    keys = list(zip(rows["subscriber_id"].astype(str), rows["channel"], strict=True))
    stopped = rows[OBJECTION].to_numpy(dtype=bool)
    if objected:
        hit = np.fromiter((key in objected for key in keys), dtype=bool, count=len(rows))
        stopped = stopped | hit
    rows[OBJECTION] = stopped
    rows.loc[stopped, "holdout"] = False  # neither acted on nor a control
    rule = pd.Series([(blocked or {}).get(key) for key in keys], index=rows.index, dtype=object)
    rule = rule.where(~rows[OBJECTION] & ~rows["holdout"])
    rows["action"] = ~rows["holdout"] & ~rows[OBJECTION] & rule.isna()
    position = rows[rows["action"]].groupby("channel").cumcount() + 1
    limit = rows.loc[position.index, "channel"].map(
        lambda c: np.inf if left.get(c) is None else left[c]
    )
    over = position.index[position > limit]
    rows.loc[over, "action"] = False
    rows["outcome"] = np.where(
        rows[OBJECTION],
        OBJECTION,
        np.where(
            rows["holdout"],
            "holdout",
            np.where(rule.notna(), rule, np.where(rows["action"], "granted", "capacity")),
        ),
    )
    probability = profile.select(
        subscriber_id=profile.subscriber_id.cast("string"),
        churn_probability=profile.churn_probability.cast("float64"),
    )
    wanted = ibis.memtable(rows[["subscriber_id"]])
    known = probability.semi_join(wanted, "subscriber_id").to_pandas()
    rows = rows.merge(known, on="subscriber_id", how="left")
    return rows.drop(
        columns=["_rank", "rule_id", "kind", "severity", "action_hint"], errors="ignore"
    )
