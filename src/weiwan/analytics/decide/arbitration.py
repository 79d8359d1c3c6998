"""Arbitration: a greedy pass in rounds over whole columns that grants each subscriber's best
remaining candidate within the policies' budgets, the channels' capacity and the value caps."""

from __future__ import annotations

import numpy as np
import pandas as pd


def arbitrate(
    scored: pd.DataFrame,
    budgets: pd.DataFrame,
    capacity: dict[str, int | None],
    value_room: pd.Series | None = None,
    order: pd.Series | None = None,
) -> pd.DataFrame:
    """Grant the best candidates: one per subscriber, within budgets, capacity and value caps.

    ``scored``: rows of :func:`score_candidates`; ``budgets``: policy_id → remaining count and
    money (NaN = unlimited); ``capacity``: channel → actions left today (None = unlimited);
    ``value_room``: subscriber_id → yuan of retention spend the value cap still allows.
    ``order`` (same index as ``scored``): the precedence of the candidates, highest first, before
    their expected value (e.g. their share in the optimal allocation); by default the expected
    value alone. Returns ``scored`` with ``granted`` (bool) and ``why_not`` (a key of
    ``day.WHY_NOT_NAMES`` for rows not granted).
    """
    ranked = scored.assign(_order=0.0 if order is None else order.reindex(scored.index).fillna(0.0))
    frame = (
        ranked.sort_values(
            ["_order", "expected_value", "subscriber_id", "policy_id", "channel"],
            ascending=[False, False, True, True, True],
            kind="mergesort",
        )
        .drop(columns="_order")
        .reset_index(drop=True)
    )
    frame["granted"] = False
    frame["why_not"] = prejudged(frame, value_room)
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


def prejudged(scored: pd.DataFrame, value_room: pd.Series | None) -> pd.Series:
    """Why each candidate can never be granted, whatever the others get (NA: it may be):
    ``not_worth_it`` when its expected value is not positive, ``value_cap`` when its offer
    costs more than the subscriber's value cap still allows. Decided row by row, so it can be
    done chunk by chunk before the arbitration across the whole population."""
    why_not = pd.Series(pd.NA, index=scored.index, dtype=object)
    why_not[scored["expected_value"] <= 0] = "not_worth_it"
    if value_room is not None:
        room = scored["subscriber_id"].map(value_room).astype(float)
        over = room.notna() & (scored["offer_cost"].astype(float) > room)
        why_not[over & why_not.isna()] = "value_cap"
    return why_not


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
