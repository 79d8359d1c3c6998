"""Monthly churn rate from the warehouse: churned in the month ÷ subscribers at the month start."""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from weiwan.analytics.warehouse import Store


def monthly_churn(warehouse: Store, months: list[date], as_of: date | None = None) -> ir.Table:
    """One row per month start in ``months``: base (active at start), churned, churn_rate."""
    subs = warehouse.current("subscribers", as_of)
    churn = warehouse.current("churn_records", as_of)
    first_churn = churn.group_by("subscriber_id").aggregate(churn_date=churn.churn_date.min())
    base = subs.select("subscriber_id", "join_date").left_join(first_churn, "subscriber_id")
    calendar = ibis.memtable({"month_start": months}).mutate(
        month_end=lambda t: t.month_start + ibis.interval(months=1)
    )
    joined = calendar.cross_join(base)
    at_start = (joined.join_date < joined.month_start) & (
        joined.churn_date.isnull() | (joined.churn_date >= joined.month_start)
    )
    churned = at_start & (joined.churn_date < joined.month_end)
    stats = joined.group_by("month_start").aggregate(base=at_start.sum(), churned=churned.sum())
    return stats.mutate(
        churn_rate=ibis.ifelse(stats.base > 0, stats.churned / stats.base, ibis.null("float64"))
    ).order_by("month_start")
