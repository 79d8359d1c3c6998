"""Champion–challenger: which strategy arm decides for each subscriber, and each arm's part of
the day's budgets and channel capacity.

A subscriber's arm is drawn like the hold-outs: the first 8 hex digits of
md5("<experiment>:<subscriber>") against the challengers' cumulative shares in the file's order;
the champion takes the rest. The draw is stable across days and runs, independent of the
hold-out draw (another key), and new subscribers never move the others. Each arm is granted
from its share of every budget and capacity, so arms compete on equal means: a challenger that
values offers more generously cannot take the champion's money.
"""

from __future__ import annotations

import hashlib
import math

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from weiwan.analytics.decide.config import Strategies

_SPAN = 16**8


def _thresholds(strategies: Strategies) -> list[tuple[str, int]]:
    """(challenger, exclusive upper bound of its draw as an integer of 8 hex digits)."""
    bounds: list[tuple[str, int]] = []
    upper = 0.0
    for arm, share in strategies.challenger_shares().items():
        if share <= 0:
            continue
        upper += share
        bounds.append((arm, min(int(upper * _SPAN), _SPAN)))
    return bounds


def arm_expression(subscriber_id: ir.StringValue, strategies: Strategies) -> ir.StringValue:
    """The arm of each subscriber (an Ibis expression; DuckDB and Spark give the same md5)."""
    bounds = _thresholds(strategies)
    if not bounds:
        return ibis.literal(strategies.champion)
    digest = (ibis.literal(f"{strategies.experiment}:") + subscriber_id).hexdigest("md5")
    head = digest.substr(0, 8)
    # fixed-width hex compares like the number it encodes; a bound of 16⁸ takes every digest
    cases = [(head < f"{bound:08x}" if bound < _SPAN else ibis.literal(True), arm)
             for arm, bound in bounds]  # fmt: skip
    return ibis.cases(*cases, else_=strategies.champion)


def arm_of(subscriber_id: str, strategies: Strategies) -> str:
    """The same draw for one subscriber in Python (checks, the operational side)."""
    bounds = _thresholds(strategies)
    if not bounds:
        return strategies.champion
    digest = hashlib.md5(f"{strategies.experiment}:{subscriber_id}".encode(), usedforsecurity=False)
    value = int(digest.hexdigest()[:8], 16)
    return next((arm for arm, bound in bounds if value < bound), strategies.champion)


def draw_arms(subscriber_ids: pd.Series, strategies: Strategies) -> pd.Series:
    """The arm of each subscriber id of a frame's column (same index)."""
    if not _thresholds(strategies) or subscriber_ids.empty:
        return pd.Series(strategies.champion, index=subscriber_ids.index, dtype=object)
    table = ibis.memtable(pd.DataFrame({"sid": subscriber_ids.astype(str).unique()}))
    drawn = table.select("sid", arm=arm_expression(table.sid, strategies)).to_pandas()
    arms = subscriber_ids.astype(str).map(drawn.set_index("sid")["arm"])
    return arms.astype(object)


def arm_budgets(budgets: pd.DataFrame, strategies: Strategies) -> dict[str, pd.DataFrame]:
    """Each arm's part of the policies' remaining budgets (``policy_id``, ``count``, ``money``;
    NaN: unlimited): a challenger gets its share (a count rounded down), the champion the rest,
    so together they never exceed the whole."""
    shares = strategies.shares()
    out: dict[str, pd.DataFrame] = {}
    count = budgets["count"].astype(float)
    money = budgets["money"].astype(float)
    left_count, left_money = count.copy(), money.copy()
    for arm, share in shares.items():
        if arm == strategies.champion:
            continue
        part_count = np.floor(count * share)
        part_money = money * share
        left_count = left_count - part_count
        left_money = left_money - part_money
        out[arm] = budgets.assign(count=part_count, money=part_money)
    out[strategies.champion] = budgets.assign(
        count=left_count.clip(lower=0), money=left_money.clip(lower=0)
    )
    return out


def arm_capacity(
    left: dict[str, int | None], strategies: Strategies
) -> dict[str, dict[str, int | None]]:
    """Each arm's part of the channels' capacity left today (None: unlimited), split like the
    budgets."""
    shares = strategies.shares()
    out: dict[str, dict[str, int | None]] = {}
    rest = dict(left)
    for arm, share in shares.items():
        if arm == strategies.champion:
            continue
        part = {c: None if n is None else math.floor(n * share) for c, n in left.items()}
        for channel, n in part.items():
            if n is not None and rest[channel] is not None:
                rest[channel] = max(0, int(rest[channel] or 0) - n)
        out[arm] = part
    out[strategies.champion] = rest
    return out
