"""Next best action (一户一荐): at most one action per subscriber per day, chosen by value.

For every subscriber with a churn risk or a retention alert, each eligible offer and channel
is worth ``EV = P(churn) × uplift × value saved − (offer cost + contact cost)``, where uplift is
the relative cut in the churn probability: the offer type's prior (or learned) effect × how well
it addresses the subscriber's churn driver × how well the channel delivers it. Arbitration then
grants the best candidates under the policies' budgets, the subscribers' value caps and the
channels' daily capacity, one per subscriber; care triggers fill the capacity left. Hold-out
subscribers (stable hashing per trigger) get no action and are recorded with what they would
have got, so each effect can be measured against them.

Arbitration is ours, not a library's: a greedy pass in rounds over whole columns (each
subscriber's best remaining candidate, cumulative use of each budget and channel in value
order), because the constraints (budgets per policy, capacity per channel, one action per
subscriber) are simple and the data is millions of rows; an LP solver would add a dependency
and minutes for a fraction of a percent of value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from weiwan.analytics.config_files import problems, read_yaml
from weiwan.analytics.contact_policy import CHANNELS, ContactPolicy
from weiwan.analytics.contract import OFFER_TYPES
from weiwan.analytics.policies import PolicyLibrary, eligibility, remaining_budgets
from weiwan.core.errors import ConfigError

_STRICT = ConfigDict(extra="forbid", frozen=True)


class DecideConfig(BaseModel):
    """decide.yaml: priors, driver matching, channel costs and effects, hold-out shares."""

    model_config = _STRICT
    holdout: dict[str, float] = Field(default_factory=lambda: {"default": 0.1})
    risk_bands: list[str] = ["high", "medium"]
    retention_alert_severities: list[str] = ["medium", "high", "critical"]
    uplift_priors: dict[str, float]
    driver_match: dict[str, dict[str, float]]
    drivers: dict[str, list[str]]
    fallback_value_months: float = 12
    contact_cost: dict[str, float]
    channel_effect: dict[str, float] = Field(
        default_factory=lambda: {
            "account_manager_call": 1.1,
            "outbound_call": 1.0,
            "store": 0.8,
            "hotline": 0.8,
            "sms": 0.35,
            "self_service": 0.25,
        }
    )
    account_manager_tiers: list[str] = ["diamond", "gold"]
    channel_order: list[str] = ["outbound_call", "sms", "self_service", "store", "hotline"]
    min_value_for_call: float = 20.0
    max_risk_months: float = 12.0
    #: the channel each join channel suggests the subscriber prefers, and the effect boost
    preferred_channels: dict[str, str] = Field(
        default_factory=lambda: {
            "store": "store",
            "agent_outlet": "store",
            "online": "self_service",
            "hotline": "hotline",
            "direct_sales": "outbound_call",
        }
    )
    preference_boost: float = 1.2

    def holdout_share(self, group: str) -> float:
        """The hold-out share of a trigger (rule id or "risk"), else the default."""
        return float(self.holdout.get(group, self.holdout.get("default", 0.0)))


def load_decide_config(path: Path | None = None) -> DecideConfig:
    """Read decide.yaml (``None``: the shipped one); errors name the file and field."""
    source, raw = read_yaml(path, "decide.yaml")
    try:
        config = DecideConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {problems(exc)}") from exc
    unknown = sorted(set(config.uplift_priors) - set(OFFER_TYPES))
    if unknown:
        raise ConfigError(f"{source}: uplift_priors: unknown offer types {unknown}")
    for driver, row in config.driver_match.items():
        odd = sorted(set(row) - set(OFFER_TYPES))
        if odd:
            raise ConfigError(f"{source}: driver_match.{driver}: unknown offer types {odd}")
    return config


def in_holdout(subscriber_id: ir.StringValue, group: str, share: float) -> ir.BooleanValue:
    """Stable random hold-out: the first 8 hex digits of md5("group:subscriber") below
    ``share`` × 16⁸. A subscriber stays in or out across runs and new subscribers never
    reshuffle the others; fixed-width hex compares like the number it encodes, and md5 is
    the same on DuckDB and Spark."""
    if share <= 0:
        return ibis.literal(False)
    threshold = f"{min(int(share * 16**8), 16**8 - 1):08x}"
    digest = (ibis.literal(f"{group}:") + subscriber_id).hexdigest("md5").substr(0, 8)
    return digest < threshold


def holdout_bucket(subscriber_id: str, group: str) -> float:
    """The same draw in Python, in [0, 1) (for checks and the operational side)."""
    import hashlib

    digest = hashlib.md5(f"{group}:{subscriber_id}".encode(), usedforsecurity=False)
    return int(digest.hexdigest()[:8], 16) / 16**8


def driver_of(feature: pd.Series, config: DecideConfig) -> pd.Series:
    """The churn driver group of each reason feature name (first matching prefix)."""
    out = pd.Series("other", index=feature.index, dtype=object)
    assigned = pd.Series(False, index=feature.index)
    text = feature.fillna("").astype(str)
    for driver, prefixes in config.drivers.items():
        hit = text.str.startswith(tuple(prefixes)) & ~assigned
        out[hit] = driver
        assigned |= hit
    return out


def uplift(
    offer_type: pd.Series,
    driver: pd.Series,
    channel: pd.Series,
    config: DecideConfig,
    learned: dict[str, float] | None = None,
    preferred: pd.Series | None = None,
) -> pd.Series:
    """Relative cut in the churn probability for each (offer, driver, channel) row; a channel
    the subscriber prefers (``preferred``) works ``preference_boost`` times better."""
    base = {**config.uplift_priors, **(learned or {})}
    prior = offer_type.map(base).astype(float).fillna(0.0)
    match_table = {(d, o): v for d, row in config.driver_match.items() for o, v in row.items()}
    keys = pd.Series(list(zip(driver, offer_type, strict=True)), index=offer_type.index)
    match = keys.map(match_table).astype(float).fillna(0.5)
    effect = channel.map(config.channel_effect).astype(float).fillna(0.5)
    if preferred is not None:
        effect = effect.where(preferred != channel, effect * config.preference_boost)
    return (prior * match * effect).clip(0.0, 1.0)


def score_candidates(
    candidates: pd.DataFrame, config: DecideConfig, learned: dict[str, float] | None = None
) -> pd.DataFrame:
    """Adds driver, uplift, cost and expected_value to candidate rows.

    ``candidates``: subscriber_id, policy_id, offer_type, offer_cost, channel,
    churn_probability (next month), value (CLV future value or NaN), arpu, reason_feature, and
    optionally commitment_months. An offer holds the subscriber for its commitment, so the
    risk it works on is that of leaving within those months (at most ``max_risk_months``),
    from the monthly probability taken as constant: 1 − (1 − p)^months.
    """
    frame = candidates.copy()
    months = (
        frame["commitment_months"].astype(float).clip(1, config.max_risk_months)
        if "commitment_months" in frame
        else pd.Series(1.0, index=frame.index)
    )
    monthly = frame["churn_probability"].astype(float).clip(0.0, 1.0)
    frame["risk_over_commitment"] = 1.0 - (1.0 - monthly) ** months
    frame["driver"] = driver_of(frame["reason_feature"], config)
    preferred = (
        frame["join_channel"].map(config.preferred_channels) if "join_channel" in frame else None
    )
    frame["uplift"] = uplift(
        frame["offer_type"], frame["driver"], frame["channel"], config, learned, preferred
    )
    fallback = frame["arpu"].astype(float).fillna(0.0) * config.fallback_value_months
    frame["value_saved"] = frame["value"].astype(float).fillna(fallback)
    contact = frame["channel"].map(config.contact_cost).astype(float).fillna(0.0)
    frame["cost"] = frame["offer_cost"].astype(float) + contact
    frame["expected_value"] = (
        frame["risk_over_commitment"] * frame["uplift"] * frame["value_saved"] - frame["cost"]
    )
    return frame


def arbitrate(
    scored: pd.DataFrame,
    budgets: pd.DataFrame,
    capacity: dict[str, int | None],
    value_room: pd.Series | None = None,
) -> pd.DataFrame:
    """Grant the best candidates: one per subscriber, within budgets, capacity and value caps.

    ``scored``: rows of :func:`score_candidates`; ``budgets``: policy_id → remaining count and
    money (NaN = unlimited); ``capacity``: channel → actions left today (None = unlimited);
    ``value_room``: subscriber_id → yuan of retention spend the value cap still allows.
    Returns ``scored`` with ``granted`` (bool) and ``why_not`` (a key of :data:`WHY_NOT_NAMES` for
    rows not granted).
    """
    frame = scored.sort_values(
        ["expected_value", "subscriber_id", "policy_id", "channel"],
        ascending=[False, True, True, True],
        kind="mergesort",
    ).reset_index(drop=True)
    frame["granted"] = False
    frame["why_not"] = pd.Series(pd.NA, index=frame.index, dtype=object)
    frame.loc[frame["expected_value"] <= 0, "why_not"] = "not_worth_it"
    if value_room is not None:
        room = frame["subscriber_id"].map(value_room).astype(float)
        over = room.notna() & (frame["offer_cost"].astype(float) > room)
        frame.loc[over & frame["why_not"].isna(), "why_not"] = "value_cap"
    count = budgets.set_index("policy_id")["count"].astype(float).to_dict()
    money = budgets.set_index("policy_id")["money"].astype(float).to_dict()
    left = {k: (np.inf if v is None else float(v)) for k, v in capacity.items()}
    live = frame["why_not"].isna().to_numpy()
    while live.any():
        pool = frame[live]
        # drop what can no longer fit: exhausted budgets and channels
        policy_count = pool["policy_id"].map(count).fillna(np.inf)
        policy_money = pool["policy_id"].map(money).fillna(np.inf)
        channel_left = pool["channel"].map(left).fillna(np.inf)
        no_budget = (policy_count < 1) | (pool["cost"] > policy_money)
        no_capacity = channel_left < 1
        frame.loc[pool.index[no_budget], "why_not"] = "budget"
        frame.loc[pool.index[~no_budget & no_capacity], "why_not"] = "capacity"
        live[pool.index[no_budget | no_capacity]] = False
        pool = frame[live]
        if pool.empty:
            break
        best = pool.drop_duplicates("subscriber_id")  # highest value left per subscriber
        used_count = best.groupby("policy_id").cumcount() + 1
        used_money = best.groupby("policy_id")["offer_cost"].cumsum()
        used_channel = best.groupby("channel").cumcount() + 1
        fits = (
            (used_count <= best["policy_id"].map(count).fillna(np.inf))
            & (used_money <= best["policy_id"].map(money).fillna(np.inf))
            & (used_channel <= best["channel"].map(left).fillna(np.inf))
        )
        winners = best[fits]
        frame.loc[winners.index, "granted"] = True
        for policy, rows in winners.groupby("policy_id"):
            count[str(policy)] = count.get(str(policy), np.inf) - len(rows)
            money[str(policy)] = money.get(str(policy), np.inf) - float(rows["offer_cost"].sum())
        for channel, rows in winners.groupby("channel"):
            left[str(channel)] = left.get(str(channel), np.inf) - len(rows)
        done = frame["subscriber_id"].isin(winners["subscriber_id"]).to_numpy()
        live &= ~done
    decided = frame.groupby("subscriber_id")["granted"].transform("any")
    frame.loc[~frame["granted"] & decided & frame["why_not"].isna(), "why_not"] = "lower_value"
    return frame


def decision_rows(arbitrated: pd.DataFrame, alternatives: int = 2) -> pd.DataFrame:
    """One row per subscriber: the granted candidate (or, when none was, the best one, with
    ``policy_id`` kept and ``granted`` False) and the next ``alternatives`` policies with
    their value and why they were not chosen."""
    ranked = arbitrated.sort_values(
        ["subscriber_id", "granted", "expected_value"], ascending=[True, False, False]
    )
    per_policy = ranked.drop_duplicates(["subscriber_id", "policy_id"])
    first = per_policy.drop_duplicates("subscriber_id").set_index("subscriber_id")
    rest = per_policy.groupby("subscriber_id").nth(slice(1, 1 + alternatives))
    rest = rest.assign(rank=rest.groupby("subscriber_id").cumcount() + 1)
    out = first.copy()
    for k in range(1, alternatives + 1):
        alt = rest[rest["rank"] == k].set_index("subscriber_id")
        out[f"alt_{k}_policy_id"] = alt["policy_id"]
        out[f"alt_{k}_expected_value"] = alt["expected_value"]
        out[f"alt_{k}_why_not"] = alt["why_not"]
    return out.reset_index()


# ----------------------------------------------------------------------------- one day

CARE_CHANNELS = {
    "sms_care": "sms",
    "outbound_call": "outbound_call",
    "account_manager_call": "account_manager_call",
    "store_callback": "store",
}
CALLS = ("outbound_call", "account_manager_call")
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
}
DRIVER_NAMES = {
    "price": ("资费", "price"),
    "competitor": ("竞争对手", "competitor"),
    "contract": ("合约到期", "contract end"),
    "service": ("服务不满", "service"),
    "usage": ("使用下降", "usage decline"),
    "payment": ("缴费", "payment"),
    "other": ("其他", "other"),
}
WHY_NOT_NAMES = {
    "lower_value": ("预期价值更低", "lower expected value"),
    "budget": ("预算用尽", "budget used up"),
    "capacity": ("渠道能力已满", "channel at capacity"),
    "value_cap": ("超出客户价值上限", "over the value cap"),
    "not_worth_it": ("预期价值为负", "not worth its cost"),
}
OUTCOME_NAMES = {
    "granted": ("今日执行", "act today"),
    "holdout": ("对照组，不接触", "hold-out, no contact"),
    "no_eligible_policy": ("无可用政策", "no eligible policy"),
    **WHY_NOT_NAMES,
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
    profile = inputs.profile
    pairs = eligibility(
        profile, library.policies, day, granted=inputs.granted, target_groups=library.target_groups
    )
    wanted = ibis.memtable(retention[["subscriber_id"]])
    pairs = pairs.semi_join(wanted, "subscriber_id")
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
        value_tier=profile.value_tier.cast("string"),
        has_account_manager=profile.has_account_manager.cast("boolean"),
        join_channel=profile.join_channel.cast("string")
        if "join_channel" in profile.columns
        else ibis.null("string"),
    )
    cand = cand.join(facts, "subscriber_id")
    managed = cand.value_tier.isin(config.account_manager_tiers) & cand.has_account_manager
    cand = cand.filter((cand.channel != "account_manager_call") | managed.fill_null(False))
    history = inputs.history
    if history is None:
        history = ibis.memtable(
            {"subscriber_id": [], "channel": [], "contacted_at": [], "outcome": []}
        ).cast(
            {
                "subscriber_id": "string",
                "channel": "string",
                "contacted_at": "date",
                "outcome": "string",
            }
        )
    explained = contact.explain_contacts(cand, history, inputs.dnd, day)
    allowed = explained.filter(explained.blocked_reason.isnull()).drop("blocked_reason")
    frame: pd.DataFrame = allowed.to_pandas()
    return frame


def decide_day(
    inputs: DayInputs,
    library: PolicyLibrary,
    contact: ContactPolicy,
    config: DecideConfig,
    day: date,
    *,
    learned: dict[str, float] | None = None,
) -> pd.DataFrame:
    """The day's decisions: one row per subscriber with a retention or care trigger
    (:data:`DECISION_COLUMNS`). ``action`` marks what is to be done today; hold-out rows keep
    the offer they would have had (``action`` False, ``outcome`` "holdout"). ``learned``
    replaces the prior uplift of the offer types it names (see analytics.uplift)."""
    retention, care = _triggers(inputs, config)
    retention["holdout"] = _held_out(retention, config).to_numpy()
    care["holdout"] = _held_out(care, config).to_numpy()
    candidates = (
        _candidates(retention, inputs, library, contact, config, day)
        if len(retention) and library.policies
        else pd.DataFrame()
    )
    scored = score_candidates(candidates, config, learned) if len(candidates) else candidates
    rows: list[pd.DataFrame] = []
    left: dict[str, int | None] = {c: contact.capacity(c, day) for c in CHANNELS}
    if len(scored):
        small_call = scored["channel"].isin(CALLS) & (
            scored["expected_value"] < config.min_value_for_call
        )
        scored = scored[~small_call]
        held = set(retention.loc[retention["holdout"], "subscriber_id"])
        in_play = scored[~scored["subscriber_id"].isin(held)]
        budgets = remaining_budgets(library.policies, inputs.granted, day).to_pandas()
        budgets = budgets.rename(columns={"remaining_count": "count", "remaining_money": "money"})
        room = _value_room(inputs, library)
        arbitrated = arbitrate(in_play, budgets, left, room)
        for channel, used in arbitrated[arbitrated["granted"]].groupby("channel").size().items():
            cap = left.get(str(channel))
            left[str(channel)] = None if cap is None else cap - int(used)
        would_be = scored[scored["subscriber_id"].isin(held)].assign(granted=False)
        would_be["why_not"] = pd.Series(pd.NA, index=would_be.index, dtype=object)
        rows.append(decision_rows(pd.concat([arbitrated, would_be], ignore_index=True)))
    # no candidate at all (no valid policy, none eligible): every trigger gets its outcome
    decided = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame({"subscriber_id": []})
    decided["subscriber_id"] = decided["subscriber_id"].astype(retention["subscriber_id"].dtype)
    out = retention.merge(
        decided.drop(columns=["trigger", "trigger_kind", "holdout"], errors="ignore"),
        on="subscriber_id",
        how="left",
    )
    granted = out["granted"] if "granted" in out else pd.Series(False, index=out.index)
    out["action"] = granted.astype("boolean").fillna(False).astype(bool) & ~out["holdout"]
    out["outcome"] = np.where(
        out["holdout"],
        "holdout",
        np.where(
            out["action"],
            "granted",
            out.get("why_not", pd.Series(pd.NA, index=out.index)).fillna("no_eligible_policy"),
        ),
    )
    out = pd.concat(
        [out, _care_actions(care, out, left, profile=inputs.profile)], ignore_index=True
    )
    for column, dtype in DECISION_SCHEMA.items():
        if column not in out.columns:  # e.g. no candidate today: blank, of the column's type
            out[column] = pd.Series(None, index=out.index, dtype=dtype)
    out["why_zh"], out["why_en"] = _explain(out)
    typed = out[list(DECISION_COLUMNS)].astype(DECISION_SCHEMA)  # all-blank columns keep a type
    return typed.sort_values("subscriber_id").reset_index(drop=True)


def _explain(out: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Why this offer and why not the next one, as one sentence in Chinese and in English."""
    texts = []
    for lang in (0, 1):
        outcome = out["outcome"].map({k: v[lang] for k, v in OUTCOME_NAMES.items()})
        outcome = outcome.fillna(out["outcome"].astype(str))
        driver = out["driver"].map({k: v[lang] for k, v in DRIVER_NAMES.items()})
        value = out["expected_value"].map(lambda v: "" if pd.isna(v) else f"{v:,.0f}")
        policy = out["policy_id"].fillna("")
        head = out["trigger"].astype(str) + ": " + outcome
        if lang == 0:
            offer = "；" + policy + "（驱动：" + driver.fillna("") + "，预期价值 " + value + " 元）"
        else:
            offer = "; " + policy + " (driver: " + driver.fillna("") + ", expected value " + value
            offer = offer + " yuan)"
        text = head + offer.where(out["policy_id"].notna(), "")
        alt_why = out["alt_1_why_not"].map({k: v[lang] for k, v in WHY_NOT_NAMES.items()})
        alt_why = alt_why.fillna("")
        alt = ("；未选 " if lang == 0 else "; not ") + out["alt_1_policy_id"].fillna("")
        alt = alt + ("：" if lang == 0 else ": ") + alt_why
        texts.append(text + alt.where(out["alt_1_policy_id"].notna(), ""))
    return texts[0], texts[1]


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


def _care_actions(
    care: pd.DataFrame,
    retention: pd.DataFrame,
    left: dict[str, int | None],
    *,
    profile: ir.Table,
) -> pd.DataFrame:
    """One care action for each care trigger whose subscriber has no retention action today,
    within the capacity left, most severe first."""
    if care.empty:
        return care
    busy = set(retention.loc[retention["action"], "subscriber_id"])
    rows = care[~care["subscriber_id"].isin(busy)].copy()
    rows["channel"] = rows["action_hint"].map(CARE_CHANNELS).fillna("sms")
    rows["_rank"] = rows["severity"].map(SEVERITY_RANK).fillna(9)
    rows = rows.sort_values(["_rank", "subscriber_id"], kind="mergesort")
    rows["action"] = ~rows["holdout"]
    position = rows[rows["action"]].groupby("channel").cumcount() + 1
    limit = rows.loc[position.index, "channel"].map(
        lambda c: np.inf if left.get(c) is None else left[c]
    )
    over = position.index[position > limit]
    rows.loc[over, "action"] = False
    rows["outcome"] = np.where(
        rows["holdout"], "holdout", np.where(rows["action"], "granted", "capacity")
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
