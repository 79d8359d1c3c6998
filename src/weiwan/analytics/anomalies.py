"""The anomaly context (异常库): what the anomaly rules of ``alert_rules/anomalies.yaml`` see.

One row per subscriber on the books at the snapshot, plus the subscribers who left in the last
:data:`LEFT_WINDOW_DAYS` days (so a disconnect or port-out still has a row to fire on). Billing
columns compare the last complete bill month with the subscriber's OWN mean of the three months
before it; disconnection columns give the latest event of each kind and its date (the rules key
their firing on it, so one event is one entry however many days it stays in the window); the
pool's columns (branch, value tier, account manager) travel with every row. DuckDB/Ibis only.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import ibis
import ibis.expr.types as ir

from weiwan.analytics.features import SUSPENSIONS, as_of_rows
from weiwan.analytics.warehouse import Store
from weiwan.core.months import add_months, last_complete_month, month_end

#: subscribers who left this many days before the snapshot still get a row
LEFT_WINDOW_DAYS = 7
#: status events that change a line's status (the latest one is compared with the record)
STATUS_CHANGES = (*SUSPENSIONS, "pre_disconnect", "disconnect", "port_out", "resume")
#: (context stem, event type): ``last_<stem>_date`` and ``days_since_<stem>``
REQUESTS = {
    "pre_disconnect": "pre_disconnect",
    "disconnect": "disconnect",
    "port_out": "port_out",
}
#: the warehouse table of the anomaly pool's entries (one row per firing and snapshot)
POOL_TABLE = "anomalies"
#: the pool's columns, denormalised into every entry
POOL_COLUMNS = ("branch", "region", "value_tier", "account_manager")


def _population(warehouse: Store, snapshot: date) -> ir.Table:
    subs = as_of_rows(warehouse, "subscribers", snapshot)
    subs = subs.filter(subs.join_date <= ibis.literal(snapshot))
    churn = as_of_rows(warehouse, "churn_records", snapshot)
    churn = churn.filter(churn.churn_date <= ibis.literal(snapshot))
    last = churn.group_by("subscriber_id").aggregate(
        churn_date=churn.churn_date.max(), churn_type=churn.churn_type.argmax(churn.churn_date)
    )
    cutoff = ibis.literal(snapshot - timedelta(days=LEFT_WINDOW_DAYS))
    rows = subs.left_join(last, "subscriber_id").drop("subscriber_id_right")
    rows = rows.filter(rows.churn_date.isnull() | (rows.churn_date >= cutoff))
    day = ibis.literal(snapshot)
    months = (day.year() - rows.join_date.year()) * 12 + (day.month() - rows.join_date.month())
    return rows.select(
        "subscriber_id",
        "branch",
        "region",
        "account_manager",
        "payment_type",
        "status",
        "status_date",
        "churn_date",
        "churn_type",
        is_prepaid=rows.payment_type == "prepaid",
        tenure_months=months - ibis.ifelse(day.day() < rows.join_date.day(), 1, 0),
        days_since_churn=day.epoch_days() - rows.churn_date.epoch_days(),
    )


def _billing(warehouse: Store, snapshot: date) -> ir.Table:
    m0 = last_complete_month(snapshot)
    usage = as_of_rows(warehouse, "monthly_usage", snapshot)
    usage = usage.filter(usage.bill_month.between(add_months(m0, -3), m0))
    bill = usage.bill_amount.cast("float64")
    last, before = usage.bill_month == m0, usage.bill_month < m0
    agg = usage.group_by("subscriber_id").aggregate(
        bill_1m=bill.max(where=last),
        bill_mean_prev_3m=bill.mean(where=before),
        bill_months_prev_3m=before.sum(),
        balance_1m=usage.balance.cast("float64").max(where=last),
        arrears_1m=usage.arrears_amount.cast("float64").max(where=last),
        _has_bill=last.any(),
    )
    agg = agg.filter(agg._has_bill).drop("_has_bill")
    return agg.mutate(
        bill_month=ibis.literal(m0),
        bill_ratio_prev_3m=ibis.ifelse(
            agg.bill_mean_prev_3m > 0, agg.bill_1m / agg.bill_mean_prev_3m, ibis.null("float64")
        ),
    )


def _events(warehouse: Store, snapshot: date) -> ir.Table:
    end = ibis.literal(datetime.combine(snapshot + timedelta(days=1), time()))
    events = as_of_rows(warehouse, "status_events", snapshot)
    events = events.filter(events.event_time < end)
    kind, at = events.event_type, events.event_time
    bill_end = ibis.literal(
        datetime.combine(month_end(last_complete_month(snapshot)) + timedelta(days=1), time())
    )
    suspended = kind.isin(SUSPENSIONS)
    changes = kind.isin(STATUS_CHANGES)
    metrics: dict[str, ir.Value] = {
        "last_suspension_type": kind.argmax(at, where=suspended),
        "_last_suspension": at.max(where=suspended),
        "_suspended_by_bill_end": at.max(where=suspended & (at < bill_end)),
        "latest_status_event": kind.argmax(at, where=changes),
        "_latest_status_event": at.max(where=changes),
    }
    for stem, event in REQUESTS.items():
        metrics[f"_last_{stem}"] = at.max(where=kind == event)
    agg = events.group_by("subscriber_id").aggregate(**metrics)
    day = ibis.literal(snapshot).epoch_days()
    columns: dict[str, ir.Value] = {
        "last_suspension_date": agg._last_suspension.date(),
        "days_since_suspension": day - agg._last_suspension.date().epoch_days(),
        "suspended_before_bill_end": agg._suspended_by_bill_end.notnull(),
        "latest_status_event_date": agg._latest_status_event.date(),
        "days_since_latest_status_event": day - agg._latest_status_event.date().epoch_days(),
    }
    for stem in REQUESTS:
        moment = agg[f"_last_{stem}"]
        columns[f"last_{stem}_date"] = moment.date()
        columns[f"days_since_{stem}"] = day - moment.date().epoch_days()
    out = agg.mutate(**columns)
    return out.drop(*(c for c in out.columns if c.startswith("_")))


def _value_tiers(warehouse: Store, snapshot: date) -> ir.Table | None:
    """Each subscriber's value tier in the latest ``segments`` snapshot on or before
    ``snapshot`` that holds them (so a subscriber who just left keeps their last tier)."""
    if not warehouse.has_table("segments"):
        return None
    seg = warehouse.table("segments")
    seg = seg.filter(seg.snapshot_date <= ibis.literal(snapshot))
    return seg.group_by("subscriber_id").aggregate(
        value_tier=seg.value_tier.cast("string").argmax(seg.snapshot_date)
    )


def anomaly_context(warehouse: Store, snapshot: date) -> ir.Table:
    """The context the anomaly rules are evaluated on (docs/anomalies.md lists the columns)."""
    context = _population(warehouse, snapshot)
    tiers = _value_tiers(warehouse, snapshot)
    parts = [_billing(warehouse, snapshot), _events(warehouse, snapshot)]
    if tiers is not None:
        parts.append(tiers)
    for part in parts:
        context = context.left_join(part, "subscriber_id").drop("subscriber_id_right")
    if tiers is None:
        context = context.mutate(value_tier=ibis.null("string"))
    return context.mutate(
        suspended_before_bill_end=context.suspended_before_bill_end.fill_null(False)
    )
