"""Offer valuation, one implementation for the daily decisions (a day's candidates) and the
real-time offer decision (one event's): each candidate's churn driver, uplift, cost and
expected value (``EV = P(churn over the commitment) × uplift × value saved − (offer cost +
contact cost)``). Over pandas frames, so a day's million candidates and an event's handful
go through the same arithmetic."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from weiwan.core.decide_rules import OUTCOME_MONTHS, DecideConfig

#: a candidate's first, second and third churn reason features (the later two may be absent)
REASON_COLUMNS = ("reason_feature", "reason_feature_2", "reason_feature_3")
#: how much each of a subscriber's reasons counts, by rank, in how well an offer meets them.
#: The first reason alone named the wrong driver for more than half of the at-risk customers of
#: simulated operators (their latent reason known); counting the first three, 3:2:1, tied the
#: match to how well each offer type meets the true reason markedly closer (correlation 0.40 and
#: 0.38 → 0.49 and 0.53 for the care call, 0.31 and 0.27 → 0.40 and 0.42 for bonus data; 50 k
#: subscribers, seeds 7004 and 7002), and as closely as weighting them by their TreeSHAP
#: contributions, which the scores do not keep (docs/next-best-action.md)
REASON_WEIGHTS = (3.0, 2.0, 1.0)
#: the columns a candidate's leaving-reason probabilities come in: this prefix + the reason
#: (``analytics.churn.leaving_reasons``; NaN where the subscriber has none). Not "leaving_":
#: the scores' ``leaving_reason`` and ``leaving_reason_share`` would be read as two reasons
LEAVING_PREFIX = "p_leaving_"
#: a candidate's churn driver a real-time event reveals (its rule's ``event_reason``, by
#: ``leaving_reason_drivers``): matched before the subscriber's own reasons; None where none
EVENT_DRIVER = "event_driver"
#: the range a learned relative uplift is kept in (negative: a contact the customer resents)
MIN_UPLIFT, MAX_UPLIFT = -1.0, 0.9
#: a candidate's learned persistence: the share of its offer type's first-month cut in churn
#: that held in the outcome window's later months (``analytics.uplift``; 0 … 1, NaN: none)
LEARNED_PERSISTENCE = "learned_persistence"
#: a candidate's learned uplift's outcome window in months (NaN: the usual
#: :data:`~weiwan.core.decide_rules.OUTCOME_MONTHS`; 1 while a cold start learns from the
#: first month of its decisions)
LEARNED_WINDOW = "learned_window_months"


def leaving_columns(published: str | None) -> dict[str, float]:
    """A published leaving-reason mix (JSON, reason → probability; the customer view's
    ``leaving_mix``) as candidate columns (:data:`LEAVING_PREFIX` + reason); none where there
    is none or it does not read as one."""
    try:
        mix = json.loads(published) if published else {}
    except ValueError:
        return {}
    if not isinstance(mix, dict):
        return {}
    columns: dict[str, float] = {}
    for reason, share in mix.items():
        if isinstance(share, int | float) and not isinstance(share, bool):
            columns[LEAVING_PREFIX + str(reason)] = float(share)
    return columns


def leaving_mix(frame: pd.DataFrame, config: DecideConfig) -> pd.DataFrame | None:
    """The rows' leaving-reason probabilities (columns: the reasons) when ``frame`` carries
    them and ``config`` uses them; None otherwise."""
    columns = [c for c in frame.columns if str(c).startswith(LEAVING_PREFIX)]
    if not columns or not config.use_leaving_reasons:
        return None
    mix = frame[columns].astype(float)
    mix.columns = [str(c)[len(LEAVING_PREFIX) :] for c in columns]
    return mix


def driver_of(feature: pd.Series, config: DecideConfig) -> pd.Series:
    """The churn driver group of each reason feature name (first matching prefix); matched
    once per distinct name (a few dozen), not once per candidate row."""
    codes, names = pd.factorize(feature.fillna("").astype(str))
    drivers = np.array([_driver(str(name), config) for name in names] + ["other"], dtype=object)
    return pd.Series(drivers[codes], index=feature.index, dtype=object)


def _driver(name: str, config: DecideConfig) -> str:
    for driver, prefixes in config.drivers.items():
        if name.startswith(tuple(prefixes)):
            return driver
    return "other"


def reason_drivers(frame: pd.DataFrame, config: DecideConfig) -> list[pd.Series]:
    """The churn driver of each of the rows' reasons :data:`REASON_COLUMNS` in ``frame``, first
    to third; None where a row has no such reason. Where a row's :data:`EVENT_DRIVER` names
    one, it comes first and the subscriber's own reasons follow (the third drops out)."""
    drivers = []
    for column in REASON_COLUMNS:
        if column not in frame:
            break
        feature = frame[column]
        present = feature.notna() & (feature.astype(str) != "")
        drivers.append(driver_of(feature, config).mask(~present))
    event = frame.get(EVENT_DRIVER)
    if event is None or not event.notna().any():
        return drivers
    named = event.notna()
    own = drivers or [pd.Series(None, index=frame.index, dtype=object)]
    # each rank takes the event's driver (rank 1) or the reason one rank up where it names one
    return [event.where(named, own[0])] + [
        own[rank - 1].where(named, own[rank]) for rank in range(1, len(own))
    ]


def uplift(
    offer_type: pd.Series,
    drivers: Sequence[pd.Series],
    channel: pd.Series,
    config: DecideConfig,
    learned: pd.Series | None = None,
    preferred: pd.Series | None = None,
    mix: pd.DataFrame | None = None,
) -> pd.Series:
    """Relative cut in the churn probability for each (offer, drivers, channel) row: the
    customer's ``learned`` uplift where there is one (see analytics.uplift; negative when a
    contact does harm), else the offer type's prior × its match with the churn drivers
    (:func:`driver_match`, by the leaving reasons ``mix`` where given); times the channel's
    effect, and a channel the subscriber prefers (``preferred``) works ``preference_boost``
    times better."""
    relative = prior_uplift(offer_type, drivers, config, mix)
    if learned is not None:
        relative = learned.astype(float).where(learned.notna(), relative)
    effect = channel.map(config.channel_effect).astype(float).fillna(0.5)
    if preferred is not None:
        effect = effect.where(preferred != channel, effect * config.preference_boost)
    return (relative * effect).clip(-1.0, 1.0)


def prior_uplift(
    offer_type: pd.Series,
    drivers: Sequence[pd.Series],
    config: DecideConfig,
    mix: pd.DataFrame | None = None,
) -> pd.Series:
    """The relative uplift expected of each row before any outcome: the offer type's prior ×
    how well it meets the subscriber's churn drivers (:func:`driver_match`)."""
    prior = offer_type.map(config.uplift_priors).astype(float).fillna(0.0)
    return prior * driver_match(offer_type, drivers, config, mix)


def leveled_uplift(prior: pd.Series, level: pd.Series) -> pd.Series:
    """The learned relative uplift of rows whose prior relative uplift is ``prior`` and whose
    offer type the outcomes put at ``level`` × its prior (``analytics.uplift``; NaN: nothing
    learned for the type), within the learned range."""
    return (prior.astype(float) * level.astype(float)).clip(MIN_UPLIFT, MAX_UPLIFT)


def candidate_prior(candidates: pd.DataFrame, config: DecideConfig) -> pd.Series:
    """:func:`prior_uplift` of candidate rows from their own columns: the offer type, the
    reasons (:func:`reason_drivers`) and the leaving-reason mix (:func:`leaving_mix`)."""
    return prior_uplift(
        candidates["offer_type"],
        reason_drivers(candidates, config),
        config,
        leaving_mix(candidates, config),
    )


def driver_match(
    offer_type: pd.Series,
    drivers: Sequence[pd.Series],
    config: DecideConfig,
    mix: pd.DataFrame | None = None,
) -> pd.Series:
    """How well each row's offer meets why its subscriber would leave: where the row has
    leaving-reason probabilities (``mix``, see :func:`leaving_mix`), the match of each
    reason's driver weighted by its probability (:func:`reason_match`); else its churn drivers
    (first, second, third: :func:`reason_drivers`), the configured match with each driver the
    row has, weighted by :data:`REASON_WEIGHTS`; a row with none matches as ``other``."""
    by_drivers = _drivers_match(offer_type, drivers, config)
    if mix is None:
        return by_drivers
    known = mix.notna().all(axis=1) & (mix.sum(axis=1) > 0)
    return reason_match(offer_type, mix, config).where(known, by_drivers)


def reason_match(offer_type: pd.Series, mix: pd.DataFrame, config: DecideConfig) -> pd.Series:
    """Per row, Σ over the leaving reasons of P(reason) × the match of the reason's driver
    (``leaving_reason_drivers``; a reason or driver not configured matches as ``other``)."""
    total = pd.Series(0.0, index=offer_type.index)
    for reason in mix.columns:
        driver = config.driver_of_reason(str(reason))
        match = _match(offer_type, pd.Series(driver, index=offer_type.index), config)
        total += mix[reason].fillna(0.0) * match
    return total


def _drivers_match(
    offer_type: pd.Series, drivers: Sequence[pd.Series], config: DecideConfig
) -> pd.Series:
    """The match with the churn drivers, weighted by rank (see :func:`driver_match`)."""
    total = pd.Series(0.0, index=offer_type.index)
    weight = pd.Series(0.0, index=offer_type.index)
    for rank_weight, driver in zip(REASON_WEIGHTS, drivers, strict=False):
        present = driver.notna()
        match = _match(offer_type, driver.where(present, "other"), config)
        total += match.where(present, 0.0) * rank_weight
        weight += present.astype(float) * rank_weight
    other = _match(offer_type, pd.Series("other", index=offer_type.index), config)
    return (total / weight.where(weight > 0)).where(weight > 0, other)


def _match(offer_type: pd.Series, driver: pd.Series, config: DecideConfig) -> pd.Series:
    """The configured match of each (driver, offer type) row; a pair not configured: 0.5."""
    # looked up in a small table by the pair's codes (a tuple per row cost seconds per million
    # candidates)
    d_codes, d_names = pd.factorize(driver)
    o_codes, o_names = pd.factorize(offer_type)
    table = np.full((len(d_names) + 1, len(o_names) + 1), 0.5)
    for i, d in enumerate(d_names):
        for j, o in enumerate(o_names):
            table[i, j] = config.driver_match.get(d, {}).get(o, 0.5)
    return pd.Series(table[d_codes, o_codes], index=offer_type.index)


def score_candidates(candidates: pd.DataFrame, config: DecideConfig) -> pd.DataFrame:
    """Adds driver, uplift, cost and expected_value to candidate rows.

    ``candidates``: subscriber_id, policy_id, offer_type, offer_cost, channel,
    churn_probability (next month), value (CLV future value or NaN), arpu, reason_feature
    (the first churn reason's; the driver shown), and optionally reason_feature_2 and _3,
    commitment_months, learned_uplift (the customer's, NaN where none) and
    :data:`LEARNED_PERSISTENCE`.
    An offer holds the subscriber for its commitment, so the
    risk its prior works on is that of leaving within those months (at most
    ``max_risk_months``), from the monthly probability taken as constant: 1 − (1 − p)^months;
    a learned uplift works on the risk over the outcome window it was measured on
    (:data:`~weiwan.core.decide_rules.OUTCOME_MONTHS`), and beyond it toward the commitment
    by the share of its effect the evidence showed persisting (:func:`learned_months`).
    """
    frame = candidates.copy()
    months = (
        frame["commitment_months"].astype(float).clip(1, config.max_risk_months)
        if "commitment_months" in frame
        else pd.Series(1.0, index=frame.index)
    )
    learned = frame.get("learned_uplift")
    if learned is not None:
        persistence = frame.get(LEARNED_PERSISTENCE, pd.Series(0.0, index=frame.index))
        window = frame.get(LEARNED_WINDOW, pd.Series(np.nan, index=frame.index))
        months = months.where(learned.isna(), learned_months(months, persistence, window))
    monthly = frame["churn_probability"].astype(float).clip(0.0, 1.0)
    frame["risk_over_commitment"] = 1.0 - (1.0 - monthly) ** months
    frame["driver"] = driver_of(frame["reason_feature"], config)
    if EVENT_DRIVER in frame:
        frame["driver"] = frame[EVENT_DRIVER].where(frame[EVENT_DRIVER].notna(), frame["driver"])
    preferred = (
        frame["join_channel"].map(config.preferred_channels) if "join_channel" in frame else None
    )
    frame["uplift"] = uplift(
        frame["offer_type"],
        reason_drivers(frame, config),
        frame["channel"],
        config,
        frame.get("learned_uplift"),
        preferred,
        leaving_mix(frame, config),
    )
    fallback = frame["arpu"].astype(float).fillna(0.0) * config.fallback_value_months
    frame["value_saved"] = frame["value"].astype(float).fillna(fallback)
    contact = frame["channel"].map(config.contact_cost).astype(float).fillna(0.0)
    frame["cost"] = frame["offer_cost"].astype(float) + contact
    frame["expected_value"] = (
        frame["risk_over_commitment"] * frame["uplift"] * frame["value_saved"] - frame["cost"]
    )
    return frame


def learned_months(commitment: pd.Series, persistence: pd.Series, window: pd.Series) -> pd.Series:
    """The months a learned uplift is valued over: the outcome ``window`` it was measured on
    (NaN: :data:`~weiwan.core.decide_rules.OUTCOME_MONTHS`), and the commitment's
    months beyond it by the share of the effect that held through the window's later months
    (``persistence``, 0 … 1; NaN: 0). An effect of one month was measured over the whole
    window and is valued there; one the window showed holding month after month is taken to
    hold as long as the offer commits the customer — the evidence cannot see past the window,
    so only as far as it showed the effect lasting."""
    measured = window.astype(float).fillna(float(OUTCOME_MONTHS))
    beyond = (commitment.astype(float) - measured).clip(lower=0.0)
    share = persistence.astype(float).fillna(0.0).clip(0.0, 1.0)
    return measured + share * beyond


#: the channels where a person calls (the ones ``min_value_for_call`` applies to)
CALLS = ("outbound_call", "account_manager_call")


def below_hurdle(scored: pd.DataFrame, config: DecideConfig) -> pd.Series:
    """Scored candidates not worth making, left out by the daily decisions and the real-time
    offer alike: those with a positive expected value but expected to save less than
    ``min_value_per_yuan`` yuan per yuan they cost (the operator's return on spend, 投入产出比:
    an estimate that barely covers its cost is as likely as not to lose money), and calls
    worth less than ``min_value_for_call``. A candidate of no positive value stays, judged
    ``not_worth_it`` where it is recorded (a hold-out's best candidate then says its decision
    would not have acted)."""
    cost = scored["cost"].astype(float)
    value = scored["expected_value"].astype(float)
    short = (cost > 0) & (value > 0) & (value + cost < config.min_value_per_yuan * cost)
    is_call: pd.Series = scored["channel"].isin(CALLS)
    below: pd.Series = short | (is_call & (value < config.min_value_for_call))
    return below
