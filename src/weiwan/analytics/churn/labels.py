"""Churn labels (流失标签) and the training snapshots they can be attached to.

A subscriber active on snapshot D is labelled churned when a churn record falls in
(D, D + horizon months]. Involuntary churn (non-payment) can be left out by configuration:
operators often treat it apart, since a retention offer rarely changes it.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from weiwan.analytics.features import as_of_rows
from weiwan.analytics.warehouse import TableSource
from weiwan.core.months import add_months, month_end


def horizon_end(snapshot: date, horizon_months: int) -> date:
    """The end of the label window: a month-end snapshot looks to a month end."""
    moved = add_months(snapshot, horizon_months)
    return month_end(moved) if snapshot == month_end(snapshot) else moved


def labels(
    source: TableSource,
    snapshot: date,
    *,
    horizon_months: int = 1,
    include_involuntary: bool = True,
    known_until: date | None = None,
) -> ir.Table:
    """(subscriber_id, churned) for churn in (snapshot, snapshot + horizon]; churn records are
    taken as known on ``known_until`` (default: the end of the horizon)."""
    end = horizon_end(snapshot, horizon_months)
    churn = as_of_rows(source, "churn_records", known_until or end)
    window = (churn.churn_date > snapshot) & (churn.churn_date <= end)
    if not include_involuntary:
        window &= churn.churn_type != "involuntary"
    churned = churn.filter(window).select("subscriber_id").distinct()
    return churned.mutate(churned=ibis.literal(True))


def labelled_snapshots(last_data_day: date, *, horizon_months: int, count: int) -> list[date]:
    """The latest ``count`` month-end snapshots whose horizon ends by ``last_data_day``, oldest
    first: the last one is the time-based hold-out, the others train."""
    latest = month_end(add_months(last_data_day, -horizon_months))
    if horizon_end(latest, horizon_months) > last_data_day:
        latest = month_end(add_months(latest, -1))
    return [month_end(add_months(latest, -k)) for k in reversed(range(count))]


def labelled_mid_months(
    last_data_day: date, *, horizon_months: int, count: int, day: int
) -> list[date]:
    """The latest ``count`` snapshots on the ``day``-th of a month whose horizon ends by
    ``last_data_day``, oldest first (the daily run scores mid-month days too, and a model
    learns what a mid-month day shows only from such days)."""
    back = add_months(last_data_day, -horizon_months)
    latest = date(back.year, back.month, day)
    while horizon_end(latest, horizon_months) > last_data_day:
        latest = add_months(latest, -1)
    return [add_months(latest, -k) for k in reversed(range(count))]
