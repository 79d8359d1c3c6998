"""Champion–challenger in the day's decisions: each subscriber's arm as a column (the draw of
:mod:`weiwan.core.strategy_rules`), and each arm's part of the day's budgets and channel
capacity. Each arm is granted from its share of every budget and capacity, so arms compete on
equal means: a challenger that values offers more generously cannot take the champion's money.
"""

from __future__ import annotations

import math

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from weiwan.core.stable_draw import SPAN
from weiwan.core.strategy_rules import Strategies


def arm_expression(subscriber_id: ir.StringValue, strategies: Strategies) -> ir.StringValue:
    """The arm of each subscriber (an Ibis expression; DuckDB and Spark give the same md5)."""
    bounds = strategies.draw_bounds()
    if not bounds:
        return ibis.literal(strategies.champion)
    digest = (ibis.literal(f"{strategies.experiment}:") + subscriber_id).hexdigest("md5")
    head = digest.substr(0, 8)
    # fixed-width hex compares like the number it encodes; a bound of 16⁸ takes every digest
    cases = [(head < f"{bound:08x}" if bound < SPAN else ibis.literal(True), arm)
             for arm, bound in bounds]  # fmt: skip
    return ibis.cases(*cases, else_=strategies.champion)


def draw_arms(subscriber_ids: pd.Series, strategies: Strategies) -> pd.Series:
    """The arm of each subscriber id of a frame's column (same index)."""
    if not strategies.draw_bounds() or subscriber_ids.empty:
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
