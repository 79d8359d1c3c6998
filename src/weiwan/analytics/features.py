"""Features (特征): one row per subscriber active at a snapshot date, from data up to that date.

Every feature is an Ibis expression over the warehouse tables (docs/features.md lists them), so
the same code runs on DuckDB and on Spark. Nothing here reads data after the snapshot date: rows
are taken as delivered on or before it (or, for history loaded later in one delivery, as first
delivered) and every event is filtered by its own time.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import ibis
import ibis.expr.types as ir

from weiwan.analytics.contract import TABLES_BY_NAME
from weiwan.analytics.warehouse import (
    EVERYONE,
    SNAPSHOT,
    RestrictedSource,
    SubscriberRange,
    TableSource,
)
from weiwan.core.logging import get_logger
from weiwan.core.months import add_months, last_complete_month, month_end

log = get_logger(__name__)

SUSPENSIONS = ("suspend_arrears", "suspend_keep_number", "suspend")
_STATUS_BY_EVENT = {
    "resume": "active",
    "suspend_arrears": "suspended_arrears",
    "suspend_keep_number": "suspended_keep_number",
    "suspend": "suspended",
    "pre_disconnect": "pre_disconnect",
}
_LIVE_STATUSES = (
    "active",
    "suspended_arrears",
    "suspended_keep_number",
    "suspended",
    "pre_disconnect",
)
_PROFILE = (
    "gender",
    "region",
    "branch",
    "brand",
    "payment_type",
    "plan_id",
    "join_channel",
    "device_model",
    "plan_monthly_fee",
)
_MONTHLY = {  # feature stem -> monthly_usage column, for 1m / 3m / 6m / trend
    "bill": "bill_amount",
    "voice": "voice_minutes",
    "data": "data_mb",
    "sms": "sms_count",
}
_SUMS = {  # feature stem -> column summed over 1 and 3 months
    "competitor_calls": "competitor_service_calls",
    "call_forwarding_days": "call_forwarding_days",
    "zero_usage_days": "zero_usage_days",
    "dropped_calls": "dropped_calls",
}


def as_of_rows(wh: TableSource, name: str, snapshot: date) -> ir.Table:
    """Each key's version as delivered on or before ``snapshot``, else its first delivery.

    The fallback lets history delivered later in one extract be used for past snapshots; a
    delivery after ``snapshot`` never replaces one made before it, so later data cannot leak in.
    """
    rows = wh.table(name)
    if wh.single_delivery(name):  # one version per key: nothing to pick (no window over all)
        return rows
    day = ibis.literal(snapshot)
    snap_days = rows[SNAPSHOT].epoch_days()
    rank = ibis.ifelse(rows[SNAPSHOT] <= day, day.epoch_days() - snap_days, 1_000_000 + snap_days)
    keys = [rows[k] for k in TABLES_BY_NAME[name].key]
    ranked = rows.mutate(_rank=ibis.row_number().over(group_by=keys, order_by=rank))
    return ranked.filter(ranked["_rank"] == 0).drop("_rank")


def _months_between(start: ir.DateValue, end: ir.DateValue) -> ir.IntegerValue:
    """Whole months from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    months = (end.year() - start.year()) * 12 + (end.month() - start.month())
    return months - ibis.ifelse(end.day() < start.day(), 1, 0)


def _live(wh: TableSource, snapshot: date) -> ir.Table:
    """The ``subscribers`` rows of those active at ``snapshot``: joined on or before it and not
    churned by it."""
    subs = as_of_rows(wh, "subscribers", snapshot)
    churn = as_of_rows(wh, "churn_records", snapshot)
    gone = churn.filter(churn.churn_date <= snapshot).select("subscriber_id").distinct()
    return subs.filter(subs.join_date <= ibis.literal(snapshot)).anti_join(gone, "subscriber_id")


def active_subscribers(wh: TableSource, snapshot: date) -> ir.Table:
    """(subscriber_id) of every subscriber active at ``snapshot``: the rows
    :func:`compute_features` gives, without computing any feature."""
    return _live(wh, snapshot).select("subscriber_id")


def _base(wh: TableSource, snapshot: date) -> ir.Table:
    day = ibis.literal(snapshot)
    live = _live(wh, snapshot)
    extras = list(wh.extra_columns("subscribers"))
    device_age = live.device_age_months - _months_between(day, live[SNAPSHOT])
    return live.select(
        "subscriber_id",
        *_PROFILE,
        *extras,
        snapshot_date=day,
        tenure_months=_months_between(live.join_date, day),
        age=_months_between(live.birth_date, day) // 12,
        is_prepaid=live.payment_type == "prepaid",
        device_age_months=ibis.ifelse(device_age >= 0, device_age, ibis.null("int64")),
        has_account_manager=live.account_manager.notnull(),
        months_to_contract_end=_months_between(day, live.contract_end_date),
        in_contract=(live.contract_end_date > day).fill_null(False),
        _status_at_delivery=ibis.ifelse(
            (live.status_date <= day) & live.status.isin(_LIVE_STATUSES),
            live.status,
            ibis.literal("active"),
        ),
    )


def _trend(recent: ir.FloatingValue, earlier: ir.FloatingValue) -> ir.FloatingValue:
    return ibis.ifelse(earlier > 0, recent / earlier - 1, ibis.null("float64"))


def _recent_usage(wh: TableSource, snapshot: date) -> tuple[ir.Table, date]:
    """The ``monthly_usage`` rows of the 6 complete months up to ``snapshot``, and the first
    day of the last of them."""
    m0 = last_complete_month(snapshot)
    usage = as_of_rows(wh, "monthly_usage", snapshot)
    return usage.filter(usage.bill_month.between(add_months(m0, -5), m0)), m0


def _windows(usage: ir.Table, m0: date) -> tuple[ir.BooleanValue, ir.BooleanValue, ir.BooleanValue]:
    """Rows of the last month, of the last 3 months, and of the 3 months before those."""
    month = usage.bill_month
    return month == m0, month >= add_months(m0, -2), month < add_months(m0, -2)


def _monthly(usage: ir.Table, m0: date, stem: str) -> dict[str, ir.Value]:
    """A ``_MONTHLY`` column's last month, 3- and 6-month means and previous 3-month mean."""
    last1, last3, prev3 = _windows(usage, m0)
    value = usage[_MONTHLY[stem]].cast("float64")
    name_1m = "arpu_1m" if stem == "bill" else ("data_mb_1m" if stem == "data" else f"{stem}_1m")
    return {
        name_1m: value.max(where=last1),
        f"{stem}_mean_3m": value.mean(where=last3),
        f"{stem}_mean_6m": value.mean(),
        f"_{stem}_prev_3m": value.mean(where=prev3),
    }


#: a month is charged over the plan (超套餐) when its bill less value-added services exceeds
#: the plan's monthly fee by more than this share
OVER_PLAN_SHARE = 0.1
_PEAKS = {  # feature -> (monthly_usage column, its last-month feature): last month in % of
    # the 6 months' highest
    "voice_vs_peak_6m": ("voice_minutes", "voice_1m"),
    "data_vs_peak_6m": ("data_mb", "data_mb_1m"),
    "sms_vs_peak_6m": ("sms_count", "sms_1m"),
    "contacts_vs_peak_6m": ("distinct_contacts", "contacts_1m"),
}


def _own_history(usage: ir.Table, m0: date) -> dict[str, ir.Value]:
    """Usage measured against the subscriber's own (``usage`` with each row's
    ``plan_monthly_fee``): the highest month of the 6, which last month is set against (a fall
    from one's own habit says more than a low figure), and what was charged beyond the plan
    (over-plan charges, 超套餐, are the classic price trigger)."""
    last1 = usage.bill_month == m0
    metrics: dict[str, ir.Value] = {
        f"_peak_{name}": usage[col].cast("float64").max() for name, (col, _) in _PEAKS.items()
    }
    beyond = usage.bill_amount - usage.vas_amount.fill_null(0) - usage.plan_monthly_fee
    metrics["bill_over_plan_1m"] = beyond.max(where=last1)
    metrics["over_plan_months_6m"] = (beyond > usage.plan_monthly_fee * OVER_PLAN_SHARE).sum()
    return metrics


def _share_of_peak(last: ir.FloatingValue, peak: ir.FloatingValue) -> ir.IntegerValue:
    """Whole percent, rounded down: a ratio of whole numbers often lands exactly halfway at
    the sixth decimal (299 / 640 = 0.4671875), where DuckDB and Spark round apart."""
    share = (last * 100 / peak).floor().cast("int64")
    return ibis.ifelse(peak > 0, share, ibis.null("int64"))


def _usage(wh: TableSource, snapshot: date) -> ir.Table:
    usage, m0 = _recent_usage(wh, snapshot)
    fees = as_of_rows(wh, "subscribers", snapshot).select("subscriber_id", "plan_monthly_fee")
    usage = usage.left_join(fees, "subscriber_id").drop("subscriber_id_right")
    last1, last3, prev3 = _windows(usage, m0)
    metrics: dict[str, ir.Value] = _own_history(usage, m0)
    for stem in _MONTHLY:
        metrics |= _monthly(usage, m0, stem)
    for stem, col in _SUMS.items():
        metrics[f"{stem}_1m"] = usage[col].sum(where=last1)
        metrics[f"{stem}_3m"] = usage[col].sum(where=last3)
    share = usage.offnet_voice_share
    recharge = usage.recharge_amount
    contacts = usage.distinct_contacts.cast("float64")
    metrics |= {
        "offnet_share_1m": share.max(where=last1),
        "offnet_share_mean_3m": share.mean(where=last3),
        "_offnet_prev_3m": share.mean(where=prev3),
        "balance_1m": usage.balance.max(where=last1),
        "recharge_1m": recharge.max(where=last1),
        "recharge_mean_3m": recharge.mean(where=last3),
        "recharge_months_6m": (recharge > 0).sum(),
        "arrears_1m": usage.arrears_amount.max(where=last1),
        "vas_mean_3m": usage.vas_amount.mean(where=last3),
        "roaming_mean_3m": usage.roaming_minutes.mean(where=last3),
        "contacts_1m": contacts.max(where=last1),
        "_contacts_mean_3m": contacts.mean(where=last3),
        "_contacts_prev_3m": contacts.mean(where=prev3),
        "usage_months": usage.count(),
    }
    agg = usage.group_by("subscriber_id").aggregate(**metrics)
    trends = {
        f"{stem}_trend_3m": _trend(agg[f"{stem}_mean_3m"], agg[f"_{stem}_prev_3m"])
        for stem in _MONTHLY
    }
    peaks = {
        name: _share_of_peak(agg[last].cast("float64"), agg[f"_peak_{name}"])
        for name, (_, last) in _PEAKS.items()
    }
    agg = agg.mutate(
        **trends,
        **peaks,
        offnet_share_change_3m=agg.offnet_share_mean_3m - agg._offnet_prev_3m,
        contacts_trend_3m=_trend(agg._contacts_mean_3m, agg._contacts_prev_3m),
    )
    return agg.drop(*(c for c in agg.columns if c.startswith("_")))


def _events(wh: TableSource, snapshot: date) -> ir.Table:
    end = ibis.literal(datetime.combine(snapshot + timedelta(days=1), time()))
    events = as_of_rows(wh, "status_events", snapshot)
    events = events.filter(events.event_time < end)
    kind, at = events.event_type, events.event_time
    suspended = kind.isin(SUSPENSIONS)
    forwarding = kind.isin(("call_forwarding_on", "call_forwarding_off"))
    status_change = kind.isin(tuple(_STATUS_BY_EVENT))
    agg = events.group_by("subscriber_id").aggregate(
        suspensions_90d=suspended.sum(where=at >= end - ibis.interval(days=90)),
        _last_suspension=at.max(where=suspended),
        plan_changes_180d=(kind == "plan_change").sum(where=at >= end - ibis.interval(days=180)),
        _last_forwarding=kind.argmax(at, where=forwarding),
        _last_status_event=kind.argmax(at, where=status_change),
    )
    end_days = ibis.literal(snapshot).epoch_days()
    return agg.mutate(
        days_since_suspension=end_days - agg._last_suspension.date().epoch_days(),
        call_forwarding_active=agg._last_forwarding == "call_forwarding_on",
        _event_status=agg._last_status_event.substitute(_STATUS_BY_EVENT),
    ).drop("_last_suspension", "_last_forwarding", "_last_status_event")


#: the features :func:`retention_offer_features` gives
RETENTION_OFFER_FEATURES = ("retention_offers_180d", "days_since_retention_offer")


def retention_offer_features(
    wh: TableSource, snapshot: date, *, before_the_day: bool = False
) -> ir.Table:
    """Retention offers the subscriber received (the delivered ``retention_contacts``, hold-out
    rows left out): an offer just made changes the next months' risk. ``before_the_day``: only
    the offers made before ``snapshot`` (what a customer offered on that day looked like before
    it: the uplift's evidence must not see its own treatment)."""
    contacts = as_of_rows(wh, "retention_contacts", snapshot)
    day = contacts.contact_date
    made = day < snapshot if before_the_day else day <= snapshot
    offered = contacts.filter(made & ~contacts.holdout)
    recent = offered.contact_date > ibis.literal(snapshot - timedelta(days=180))
    agg = offered.group_by("subscriber_id").aggregate(
        retention_offers_180d=recent.sum(), _last_offer=offered.contact_date.max()
    )
    end_days = ibis.literal(snapshot).epoch_days()
    return agg.mutate(days_since_retention_offer=end_days - agg._last_offer.epoch_days()).drop(
        "_last_offer"
    )


def _care(wh: TableSource, snapshot: date) -> tuple[ir.Table, ir.Table]:
    end = datetime.combine(snapshot + timedelta(days=1), time())
    end_lit = ibis.literal(end)
    comp = as_of_rows(wh, "complaints", snapshot)
    comp = comp.filter(comp.complaint_time < end_lit)
    # Both sides through the engine: a Python .timestamp() would read the server's local zone.
    closed_at = comp.complaint_time.epoch_seconds() + comp.hours_to_resolve * 3600
    open_at_end = (
        ~comp.resolved | comp.hours_to_resolve.isnull() | (closed_at >= end_lit.epoch_seconds())
    )
    recent = comp.complaint_time >= end_lit - ibis.interval(days=90)
    complaints = comp.group_by("subscriber_id").aggregate(
        complaints_90d=recent.sum(),
        complaints_high_90d=(comp.severity == "high").sum(where=recent),
        # what the complaints were about says why the customer would leave (a network fault,
        # a bill) more than how many there were: the leaving-reason model's evidence
        complaints_network_90d=(comp.category == "network").sum(where=recent),
        complaints_billing_90d=(comp.category == "billing").sum(where=recent),
        complaints_total=comp.count(),
        complaints_unresolved=open_at_end.sum(),
    )
    surv = as_of_rows(wh, "surveys", snapshot)
    surv = surv.filter(surv.survey_time < end_lit)
    surveys = surv.group_by("subscriber_id").aggregate(
        last_survey_score=surv.score.argmax(surv.survey_time),
        low_scores_180d=(surv.score <= 6).sum(
            where=surv.survey_time >= end_lit - ibis.interval(days=180)
        ),
    )
    return complaints, surveys


#: the features that are 0, not unknown, for a subscriber without such rows
ZERO_WHEN_ABSENT = (
    "competitor_calls_1m",
    "competitor_calls_3m",
    "call_forwarding_days_1m",
    "call_forwarding_days_3m",
    "zero_usage_days_1m",
    "zero_usage_days_3m",
    "dropped_calls_1m",
    "dropped_calls_3m",
    "recharge_months_6m",
    "usage_months",
    "over_plan_months_6m",
    "suspensions_90d",
    "plan_changes_180d",
    "complaints_90d",
    "complaints_high_90d",
    "complaints_network_90d",
    "complaints_billing_90d",
    "complaints_total",
    "complaints_unresolved",
    "low_scores_180d",
    "retention_offers_180d",
)


#: the features fed by each ``monthly_usage`` input an operator may declare ``not_delivered``
INPUT_FEATURES: dict[str, tuple[str, ...]] = {
    "voice_minutes": (
        "voice_1m",
        "voice_mean_3m",
        "voice_mean_6m",
        "voice_trend_3m",
        "voice_vs_peak_6m",
    ),
    "offnet_voice_share": ("offnet_share_1m", "offnet_share_mean_3m", "offnet_share_change_3m"),
    "data_mb": ("data_mb_1m", "data_mean_3m", "data_mean_6m", "data_trend_3m", "data_vs_peak_6m"),
    "sms_count": ("sms_1m", "sms_mean_3m", "sms_mean_6m", "sms_trend_3m", "sms_vs_peak_6m"),
    "vas_amount": ("vas_mean_3m",),
    "roaming_minutes": ("roaming_mean_3m",),
    "competitor_service_calls": ("competitor_calls_1m", "competitor_calls_3m"),
    "call_forwarding_days": ("call_forwarding_days_1m", "call_forwarding_days_3m"),
    "zero_usage_days": ("zero_usage_days_1m", "zero_usage_days_3m"),
    "recharge_amount": ("recharge_1m", "recharge_mean_3m", "recharge_months_6m"),
    "distinct_contacts": ("contacts_1m", "contacts_trend_3m", "contacts_vs_peak_6m"),
    "dropped_calls": ("dropped_calls_1m", "dropped_calls_3m"),
}


def undelivered_inputs(wh: TableSource, snapshot: date) -> list[str]:
    """The optional ``monthly_usage`` inputs with no value at all in the 6 months up to
    ``snapshot`` although usage rows exist: columns the operator does not deliver."""
    m0 = last_complete_month(snapshot)
    usage = wh.table("monthly_usage")
    usage = usage.filter(usage.bill_month.between(add_months(m0, -5), m0))
    counts = usage.aggregate(
        _rows=usage.count(), **{col: usage[col].count() for col in INPUT_FEATURES}
    ).execute()
    found = counts.iloc[0]
    if not int(found["_rows"]):
        return []
    return [col for col in INPUT_FEATURES if not int(found[col])]


def log_undelivered(snapshot: date, missing: list[str]) -> None:
    """Say once which features are skipped for the ``missing`` usage inputs."""
    log.warning(
        "features.skipped",
        snapshot=snapshot.isoformat(),
        not_delivered=[f"monthly_usage.{col}" for col in missing],
        features=[feature for col in missing for feature in INPUT_FEATURES[col]],
    )


FLOAT_DIGITS = 6


#: features that describe the day, not the subscriber (the same for everyone on it): the
#: churn model conditions on them, but they are never a reason to leave and never drift
DAY_FEATURES = ("days_since_month_end",)


def days_since_month_end(snapshot: date) -> int:
    """Days from the end of the last bill month to ``snapshot``: 0 at a month end, 15 on the
    15th — how old the last bill is and how much of the month's events are in."""
    return (snapshot - month_end(last_complete_month(snapshot))).days


def compute_features(
    wh: TableSource,
    snapshot: date,
    *,
    within: SubscriberRange = EVERYONE,
    not_delivered: list[str] | None = None,
) -> ir.Table:
    """The feature table for ``snapshot``: one row per subscriber active on that date (of the
    subscribers ``within`` a range: every feature is the subscriber's own).

    Features fed by an input the operator does not deliver are skipped: NULL (unknown) for
    everyone rather than 0, and said once in the log. ``not_delivered``
    (:func:`undelivered_inputs` of the whole population) saves looking again for each part.
    """
    # where a table is stored in subscriber order (a delivery usually is, month by month),
    # DuckDB skips the other ranges' row groups by their min/max
    source = wh if within == EVERYONE else RestrictedSource(wh, within.rows)
    base = _base(source, snapshot)
    complaints, surveys = _care(source, snapshot)
    joined = base
    parts = (_usage(source, snapshot), _events(source, snapshot), complaints, surveys)
    for part in (*parts, retention_offer_features(source, snapshot)):
        joined = joined.left_join(part, "subscriber_id").drop("subscriber_id_right")
    filled = {c: joined[c].fill_null(0) for c in ZERO_WHEN_ABSENT}
    table = joined.mutate(
        **filled,
        call_forwarding_active=joined.call_forwarding_active.fill_null(False),
        status=joined._event_status.fill_null(joined._status_at_delivery),
        days_since_month_end=ibis.literal(days_since_month_end(snapshot), "int64"),
    ).drop("_event_status", "_status_at_delivery")
    missing = undelivered_inputs(wh, snapshot) if not_delivered is None else not_delivered
    if missing:
        skipped = [feature for col in missing for feature in INPUT_FEATURES[col]]
        if not_delivered is None:
            log_undelivered(snapshot, missing)
        table = table.mutate(**{name: ibis.null(table[name].type()) for name in skipped})
    # Parallel aggregation sums floats in any order, so means differ run to run in the last
    # bits (measured: up to 6e-11); rounded, the same data gives the same features, bins and
    # model every time.
    exact = {
        name: table[name].round(FLOAT_DIGITS)
        for name, dtype in table.schema().items()
        if dtype.is_floating()
    }
    return table.mutate(**exact)


def bill_bases(wh: TableSource, snapshot: date) -> ir.Table:
    """``arpu_1m`` and ``bill_mean_3m`` (the value tier's bases) of each subscriber active at
    ``snapshot``, with ``subscriber_id`` and ``snapshot_date``: the values
    :func:`compute_features` gives, without computing the other features."""
    usage, m0 = _recent_usage(wh, snapshot)
    bills = usage.group_by("subscriber_id").aggregate(**_monthly(usage, m0, "bill"))
    bills = bills.select(b_sid=bills.subscriber_id, b_1m=bills.arpu_1m, b_3m=bills.bill_mean_3m)
    live = _live(wh, snapshot)
    joined = live.left_join(bills, live.subscriber_id == bills.b_sid)
    return joined.select(
        "subscriber_id",
        snapshot_date=ibis.literal(snapshot),
        arpu_1m=joined.b_1m.round(FLOAT_DIGITS),
        bill_mean_3m=joined.b_3m.round(FLOAT_DIGITS),
    )
