"""Champion–challenger evaluation: each strategy arm's churn against its own hold-out and
against the champion, with 95 % confidence intervals and whether a difference is significant.

Who is compared: the subscribers with a retention decision (risk or retention alert; care is
not a strategy's) on the *experiment days* — the days more than one arm decided (a single-arm
history: every day, the champion against its hold-out) — whose outcome window (``horizon``
months after the decision) has closed by the snapshot. A subscriber counts once, at their first
such decision, in their arm (stable per experiment) and hold-out (by that day's trigger). Both
draws are random and independent, so every comparison is randomised and intention-to-treat:

- an arm's *uplift* = hold-out churn − the arm's churn (churn points it prevented; the arm's
  hold-outs would have had its offers);
- *gain over the champion* = champion's churn − the arm's churn, among subscribers not held out.

Intervals: Wilson's for one rate (scipy), Newcombe's hybrid score for a difference of two rates
(built from the two Wilson intervals: scipy has no two-sample interval and statsmodels is not a
dependency for four lines); a difference is *significant* when its interval excludes zero. The
p-value is Fisher's exact test when a cell is small, else the chi-squared test (scipy).
"""

from __future__ import annotations

import math
from datetime import date

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from weiwan.analytics.outcomes import HORIZON_MONTHS
from weiwan.analytics.warehouse import Store
from weiwan.core.months import window_closed_by
from weiwan.core.strategy_rules import Strategies

#: the stored evaluation (warehouse and operational table ``strategy_arms``), column → type
ARM_COLUMNS: dict[str, str] = {
    "arm": "string",
    "champion": "bool",
    "share": "float64",  # in the configuration in effect (NaN: no longer configured)
    "first_day": "date",
    "last_day": "date",
    "subscribers": "int64",  # not held out, window closed
    "churned": "int64",
    "churn_rate": "float64",
    "churn_low": "float64",
    "churn_high": "float64",
    "holdout_subscribers": "int64",
    "holdout_churned": "int64",
    "holdout_churn_rate": "float64",
    "uplift": "float64",  # hold-out churn − arm churn
    "uplift_low": "float64",
    "uplift_high": "float64",
    "uplift_significant": "bool",
    "saves": "float64",  # uplift × subscribers
    "acted": "int64",  # subscribers with at least one action
    "spend": "float64",  # yuan of the actions decided for them
    "cost_per_save": "float64",
    "gain": "float64",  # champion churn − arm churn (NaN for the champion)
    "gain_low": "float64",
    "gain_high": "float64",
    "p_value": "float64",
    "significant": "bool",
    "pending": "int64",  # subscribers whose window has not closed yet
}
Z95 = float(stats.norm.ppf(0.975))


def wilson(events: int, trials: int) -> tuple[float, float]:
    """Wilson's 95 % interval of a rate (NaN, NaN without trials)."""
    if trials <= 0:
        return math.nan, math.nan
    ci = stats.binomtest(events, trials).proportion_ci(0.95, method="wilson")
    return float(ci.low), float(ci.high)


def rate_difference(
    events_a: int, trials_a: int, events_b: int, trials_b: int
) -> tuple[float, float, float]:
    """(rate a − rate b, low, high): Newcombe's hybrid score interval (method 10)."""
    if trials_a <= 0 or trials_b <= 0:
        return math.nan, math.nan, math.nan
    pa, pb = events_a / trials_a, events_b / trials_b
    la, ua = wilson(events_a, trials_a)
    lb, ub = wilson(events_b, trials_b)
    diff = pa - pb
    return (
        diff,
        diff - math.sqrt((pa - la) ** 2 + (ub - pb) ** 2),
        diff + math.sqrt((ua - pa) ** 2 + (pb - lb) ** 2),
    )


def p_value(events_a: int, trials_a: int, events_b: int, trials_b: int) -> float:
    """Two-sided p-value that the two rates are equal."""
    if trials_a <= 0 or trials_b <= 0:
        return math.nan
    table = np.array([[events_a, trials_a - events_a], [events_b, trials_b - events_b]])
    if (table.sum(axis=0) == 0).any():
        return 1.0  # nobody (or everybody) churned on either side: no difference to test
    expected = stats.contingency.expected_freq(table)
    if (expected < 5).any():
        return float(stats.fisher_exact(table).pvalue)
    return float(stats.chi2_contingency(table, correction=False).pvalue)


def _groups(wh: Store, snapshot: date, horizon_months: int) -> pd.DataFrame:
    """The subscribers with a retention decision on an experiment day, counted per (arm,
    held, closed): ``subscribers``, ``churned`` within the window, ``acted``, ``spend``,
    ``first_day`` and ``last_day`` of their first decisions (a few rows, computed by the
    engine however many subscribers there are)."""
    decisions = wh.table("decisions")
    retention = decisions.filter(
        decisions.strategy.notnull()
        & (decisions.trigger_kind != "care")
        & (decisions.snapshot_date <= snapshot)
    )
    arms_per_day = retention.group_by("snapshot_date").aggregate(arms=retention.strategy.nunique())
    several = arms_per_day.filter(arms_per_day.arms > 1).select("snapshot_date")
    days = several if several.count().execute() > 0 else arms_per_day.select("snapshot_date")
    rows = retention.semi_join(days, "snapshot_date")
    # one aggregation (no window over the whole history): the arm and hold-out of the first day
    first = rows.group_by("subscriber_id").aggregate(
        arm=rows.strategy.argmin(rows.snapshot_date),
        held=rows.holdout.argmin(rows.snapshot_date),
        day=rows.snapshot_date.min(),
        acted=rows.action.any(),
        spend=rows.action.ifelse(rows.cost.fill_null(0.0), 0.0).sum(),
    )
    closed_by = window_closed_by(snapshot, horizon_months)
    base = first.mutate(closed=first.day <= closed_by)
    churn = wh.table("churn_records")
    churn = churn.filter(churn.churn_date <= snapshot).select(
        k_subscriber=churn.subscriber_id, k_date=churn.churn_date
    )
    joined = base.left_join(
        churn,
        [
            base.subscriber_id == churn.k_subscriber,
            churn.k_date > base.day,
            churn.k_date <= base.day + ibis.interval(months=horizon_months),
        ],
    )
    per_subscriber = joined.group_by(
        ["subscriber_id", "arm", "held", "day", "closed", "acted", "spend"]
    ).aggregate(churned=joined.k_subscriber.notnull().any())
    t = per_subscriber
    groups = t.group_by(["arm", "held", "closed"]).aggregate(
        subscribers=t.count(),
        churned=t.churned.cast("int64").sum(),
        acted=t.acted.cast("int64").sum(),
        spend=t.spend.sum(),
        first_day=t.day.min(),
        last_day=t.day.max(),
    )
    frame: pd.DataFrame = groups.to_pandas()
    return frame


def strategy_evaluation(
    wh: Store,
    snapshot: date,
    strategies: Strategies,
    *,
    horizon_months: int = HORIZON_MONTHS,
) -> pd.DataFrame | None:
    """One row per arm (:data:`ARM_COLUMNS`), the champion first; None before any decision
    recorded an arm."""
    if not wh.has_table("decisions") or "strategy" not in wh.table("decisions").columns:
        return None
    groups = _groups(wh, snapshot, horizon_months)
    if groups.empty:
        return None
    shares = strategies.shares()
    champion = strategies.champion
    sizes = groups.groupby("arm")["subscribers"].sum()
    if champion not in sizes.index:  # evaluated history of an earlier champion
        champion = str(sizes.idxmax())

    def total(arm: str, held: bool, column: str) -> int:
        rows = groups[(groups["arm"] == arm) & (groups["held"] == held) & groups["closed"]]
        return int(rows[column].sum())

    base_n, base_k = total(champion, False, "subscribers"), total(champion, False, "churned")
    rows = []
    for arm in [champion, *sorted(set(sizes.index) - {champion})]:
        mine = groups[groups["arm"] == arm]
        n, k = total(arm, False, "subscribers"), total(arm, False, "churned")
        hn, hk = total(arm, True, "subscribers"), total(arm, True, "churned")
        low, high = wilson(k, n)
        uplift, uplift_low, uplift_high = rate_difference(hk, hn, k, n)
        saves = uplift * n if n else math.nan
        treated = mine[~mine["held"].astype(bool) & mine["closed"].astype(bool)]
        spend = float(treated["spend"].sum())
        gain = gain_low = gain_high = p = math.nan
        if arm != champion:
            gain, gain_low, gain_high = rate_difference(base_k, base_n, k, n)
            p = p_value(k, n, base_k, base_n)
        rows.append(
            {
                "arm": arm,
                "champion": arm == champion,
                "share": shares.get(arm, math.nan),
                "first_day": mine["first_day"].min(),
                "last_day": mine["last_day"].max(),
                "subscribers": n,
                "churned": k,
                "churn_rate": k / n if n else math.nan,
                "churn_low": low,
                "churn_high": high,
                "holdout_subscribers": hn,
                "holdout_churned": hk,
                "holdout_churn_rate": hk / hn if hn else math.nan,
                "uplift": uplift,
                "uplift_low": uplift_low,
                "uplift_high": uplift_high,
                "uplift_significant": bool(uplift_low > 0 or uplift_high < 0),
                "saves": saves,
                "acted": int(treated["acted"].sum()),
                "spend": spend,
                "cost_per_save": spend / saves if saves and saves > 0 else math.nan,
                "gain": gain,
                "gain_low": gain_low,
                "gain_high": gain_high,
                "p_value": p,
                "significant": bool(gain_low > 0 or gain_high < 0),
                "pending": int(mine.loc[~mine["closed"].astype(bool), "subscribers"].sum()),
            }
        )
    frame = pd.DataFrame(rows, columns=list(ARM_COLUMNS))
    frame["first_day"] = pd.to_datetime(frame["first_day"]).dt.date
    frame["last_day"] = pd.to_datetime(frame["last_day"]).dt.date
    return frame
