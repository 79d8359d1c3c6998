"""The features of ``weiwan.analytics.features`` written straightforwardly in pandas.

This is the comparison point for ``bench/bench_features.py``: the same feature names and
definitions (docs/features.md), the way an analyst would write them with DataFrames — read each
warehouse table whole into memory, then filter, ``groupby``/``agg`` and ``merge``; no loops over
subscribers. One simplification: the as-of delivery rule is "the latest ``_snapshot`` per key"
(the benchmark warehouse holds a single delivery, so both rules pick the same rows).
"""

from __future__ import annotations

import calendar
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

TABLES = {  # table -> key columns (weiwan.analytics.contract)
    "subscribers": ["subscriber_id"],
    "monthly_usage": ["subscriber_id", "bill_month"],
    "status_events": ["subscriber_id", "event_time", "event_type"],
    "complaints": ["complaint_id"],
    "surveys": ["survey_id"],
    "churn_records": ["subscriber_id", "churn_date"],
    "retention_contacts": ["contact_id"],  # optional: read when delivered
}
SUSPENSIONS = ["suspend_arrears", "suspend_keep_number", "suspend"]
STATUS_BY_EVENT = {
    "resume": "active",
    "suspend_arrears": "suspended_arrears",
    "suspend_keep_number": "suspended_keep_number",
    "suspend": "suspended",
    "pre_disconnect": "pre_disconnect",
}
LIVE_STATUSES = list(STATUS_BY_EVENT.values())
PROFILE = [
    "gender",
    "region",
    "branch",
    "brand",
    "payment_type",
    "plan_id",
    "join_channel",
    "device_model",
    "plan_monthly_fee",
]
MONTHLY = {"bill": "bill_amount", "voice": "voice_minutes", "data": "data_mb", "sms": "sms_count"}
NAME_1M = {"bill": "arpu_1m", "voice": "voice_1m", "data": "data_mb_1m", "sms": "sms_1m"}
SUMS = {
    "competitor_calls": "competitor_service_calls",
    "call_forwarding_days": "call_forwarding_days",
    "zero_usage_days": "zero_usage_days",
}
USAGE_COLUMNS = [
    *(c for s in MONTHLY for c in (NAME_1M[s], f"{s}_mean_3m", f"{s}_mean_6m")),
    *(f"{s}_{n}" for s in SUMS for n in ("1m", "3m")),
    "offnet_share_1m",
    "offnet_share_mean_3m",
    "balance_1m",
    "recharge_1m",
    "recharge_mean_3m",
    "recharge_months_6m",
    "arrears_1m",
    "vas_mean_3m",
    "roaming_mean_3m",
    "contacts_1m",
    "usage_months",
    *(f"{s}_trend_3m" for s in MONTHLY),
    "offnet_share_change_3m",
    "contacts_trend_3m",
]
ZERO_WHEN_ABSENT = [
    "competitor_calls_1m",
    "competitor_calls_3m",
    "call_forwarding_days_1m",
    "call_forwarding_days_3m",
    "zero_usage_days_1m",
    "zero_usage_days_3m",
    "recharge_months_6m",
    "usage_months",
    "suspensions_90d",
    "plan_changes_180d",
    "complaints_90d",
    "complaints_high_90d",
    "complaints_total",
    "complaints_unresolved",
    "low_scores_180d",
    "retention_offers_180d",
]


def last_complete_month(snapshot: date) -> date:
    """First day of the last bill month that ended on or before ``snapshot``."""
    if snapshot.day == calendar.monthrange(snapshot.year, snapshot.month)[1]:
        return snapshot.replace(day=1)
    return (snapshot.replace(day=1) - timedelta(days=1)).replace(day=1)


def months_before(month: date, n: int) -> date:
    """The first day of the month ``n`` months before ``month``."""
    index = month.year * 12 + month.month - 1 - n
    return date(index // 12, index % 12 + 1, 1)


def read_tables(warehouse_path: Path) -> dict[str, pd.DataFrame]:
    """Every contract table, whole, as a DataFrame (plus the extra-column register)."""
    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        stored = {
            row[0] for row in con.sql("select table_name from information_schema.tables").fetchall()
        }
        frames = {name: con.sql(f"select * from {name}").df() for name in TABLES if name in stored}
        frames["extra_columns"] = con.sql("select * from extra_columns").df()
    finally:
        con.close()
    return frames


def latest(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Each key's latest delivery (simplified as-of rule, see the module docstring)."""
    ordered = frame.sort_values("_snapshot", kind="stable")
    return ordered.drop_duplicates(TABLES[name], keep="last")


def _months_from(day: pd.Timestamp, end: pd.Series) -> pd.Series:
    """Whole months from ``day`` to each ``end`` (negative when earlier; NULL stays NULL)."""
    months = (end.dt.year - day.year) * 12 + (end.dt.month - day.month)
    result: pd.Series = (months - (end.dt.day < day.day).astype("Int64")).astype("Int64")
    return result


def _months_to(start: pd.Series, day: pd.Timestamp) -> pd.Series:
    """Whole months from each ``start`` to ``day``."""
    months = (day.year - start.dt.year) * 12 + (day.month - start.dt.month)
    result: pd.Series = (months - (day.day < start.dt.day).astype("Int64")).astype("Int64")
    return result


def _base(t: dict[str, pd.DataFrame], snapshot: date) -> pd.DataFrame:
    day = pd.Timestamp(snapshot)
    subs = latest(t["subscribers"], "subscribers")
    churn = latest(t["churn_records"], "churn_records")
    gone = churn.loc[churn["churn_date"] <= day, "subscriber_id"].unique()
    live = subs[(subs["join_date"] <= day) & ~subs["subscriber_id"].isin(gone)]
    register = t["extra_columns"]
    extras = sorted(register.loc[register["table_name"] == "subscribers", "column_name"])
    out = live[["subscriber_id", *PROFILE, *extras]].copy()
    out["snapshot_date"] = day
    out["tenure_months"] = _months_to(live["join_date"], day)
    out["age"] = _months_to(live["birth_date"], day) // 12
    device_age = live["device_age_months"].astype("Int64") - _months_from(day, live["_snapshot"])
    out["is_prepaid"] = live["payment_type"] == "prepaid"
    out["device_age_months"] = device_age.where(device_age >= 0)
    out["has_account_manager"] = live["account_manager"].notna()
    out["months_to_contract_end"] = _months_from(day, live["contract_end_date"])
    out["in_contract"] = (live["contract_end_date"] > day).fillna(False)
    known = (live["status_date"] <= day) & live["status"].isin(LIVE_STATUSES)
    out["_status_at_delivery"] = live["status"].where(known, "active")
    return out


def _trend(recent: pd.Series, earlier: pd.Series) -> pd.Series:
    return (recent / earlier - 1).where(earlier > 0)


def _usage(t: dict[str, pd.DataFrame], snapshot: date) -> pd.DataFrame:
    m0 = pd.Timestamp(last_complete_month(snapshot))
    m2, m5 = pd.Timestamp(months_before(m0, 2)), pd.Timestamp(months_before(m0, 5))
    usage = latest(t["monthly_usage"], "monthly_usage")
    usage = usage[(usage["bill_month"] >= m5) & (usage["bill_month"] <= m0)]
    numeric = [*MONTHLY.values(), "distinct_contacts"]
    usage = usage.astype(dict.fromkeys(numeric, "float64"))
    usage["recharged"] = usage["recharge_amount"] > 0
    last1 = usage[usage["bill_month"] == m0].groupby("subscriber_id")
    last3 = usage[usage["bill_month"] >= m2].groupby("subscriber_id")
    prev3 = usage[usage["bill_month"] < m2].groupby("subscriber_id")
    all6 = usage.groupby("subscriber_id")

    one = last1.agg(
        **{NAME_1M[s]: (c, "max") for s, c in MONTHLY.items()},
        **{f"{s}_1m": (c, "sum") for s, c in SUMS.items()},
        offnet_share_1m=("offnet_voice_share", "max"),
        balance_1m=("balance", "max"),
        recharge_1m=("recharge_amount", "max"),
        arrears_1m=("arrears_amount", "max"),
        contacts_1m=("distinct_contacts", "max"),
    )
    three = last3.agg(
        **{f"{s}_mean_3m": (c, "mean") for s, c in MONTHLY.items()},
        **{f"{s}_3m": (c, "sum") for s, c in SUMS.items()},
        offnet_share_mean_3m=("offnet_voice_share", "mean"),
        recharge_mean_3m=("recharge_amount", "mean"),
        vas_mean_3m=("vas_amount", "mean"),
        roaming_mean_3m=("roaming_minutes", "mean"),
        contacts_mean_3m=("distinct_contacts", "mean"),
    )
    prev = prev3.agg(
        **{f"{s}_prev_3m": (c, "mean") for s, c in MONTHLY.items()},
        offnet_prev_3m=("offnet_voice_share", "mean"),
        contacts_prev_3m=("distinct_contacts", "mean"),
    )
    six = all6.agg(
        **{f"{s}_mean_6m": (c, "mean") for s, c in MONTHLY.items()},
        recharge_months_6m=("recharged", "sum"),
        usage_months=("bill_month", "size"),
    )
    agg = six.join(one).join(three).join(prev)
    for stem in MONTHLY:
        agg[f"{stem}_trend_3m"] = _trend(agg[f"{stem}_mean_3m"], agg[f"{stem}_prev_3m"])
    agg["offnet_share_change_3m"] = agg["offnet_share_mean_3m"] - agg["offnet_prev_3m"]
    agg["contacts_trend_3m"] = _trend(agg["contacts_mean_3m"], agg["contacts_prev_3m"])
    return agg[USAGE_COLUMNS]  # the column order of features.py


def _last_of(events: pd.DataFrame, value: str, at: str) -> pd.Series:
    """Per subscriber, ``value`` at the latest ``at``."""
    ordered = events.sort_values(at, kind="stable")
    return ordered.drop_duplicates("subscriber_id", keep="last").set_index("subscriber_id")[value]


def _events(t: dict[str, pd.DataFrame], snapshot: date) -> pd.DataFrame:
    day = pd.Timestamp(snapshot)
    end = day + timedelta(days=1)
    ev = latest(t["status_events"], "status_events")
    ev = ev[ev["event_time"] < end]
    kind, at = ev["event_type"], ev["event_time"]
    suspended = ev[kind.isin(SUSPENSIONS)]
    out = pd.DataFrame(index=pd.Index(ev["subscriber_id"].unique(), name="subscriber_id"))
    recent = suspended[suspended["event_time"] >= end - timedelta(days=90)]
    out["suspensions_90d"] = recent.groupby("subscriber_id").size()
    plans = ev[(kind == "plan_change") & (at >= end - timedelta(days=180))]
    out["plan_changes_180d"] = plans.groupby("subscriber_id").size()
    last_suspension = suspended.groupby("subscriber_id")["event_time"].max()
    out["days_since_suspension"] = (day - last_suspension.dt.normalize()).dt.days.astype("Int64")
    forwarding = ev[kind.isin(["call_forwarding_on", "call_forwarding_off"])]
    out["call_forwarding_active"] = _last_of(forwarding, "event_type", "event_time").eq(
        "call_forwarding_on"
    )
    changes = ev[kind.isin(list(STATUS_BY_EVENT))]
    out["_event_status"] = _last_of(changes, "event_type", "event_time").map(STATUS_BY_EVENT)
    return out


def _care(t: dict[str, pd.DataFrame], snapshot: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    end = pd.Timestamp(snapshot) + timedelta(days=1)
    comp = latest(t["complaints"], "complaints")
    comp = comp[comp["complaint_time"] < end]
    closed_at = comp["complaint_time"] + pd.to_timedelta(comp["hours_to_resolve"], unit="h")
    unresolved = ~comp["resolved"].fillna(True) | comp["hours_to_resolve"].isna()
    comp = comp.assign(
        recent=comp["complaint_time"] >= end - timedelta(days=90),
        open_at_end=unresolved | (closed_at >= end),
    )
    comp["high_recent"] = comp["recent"] & (comp["severity"] == "high")
    complaints = comp.groupby("subscriber_id").agg(
        complaints_90d=("recent", "sum"),
        complaints_high_90d=("high_recent", "sum"),
        complaints_total=("complaint_id", "size"),
        complaints_unresolved=("open_at_end", "sum"),
    )
    surv = latest(t["surveys"], "surveys")
    surv = surv[surv["survey_time"] < end]
    low = surv[(surv["score"] <= 6) & (surv["survey_time"] >= end - timedelta(days=180))]
    surveys = pd.DataFrame(
        {
            "last_survey_score": _last_of(surv, "score", "survey_time"),
            "low_scores_180d": low.groupby("subscriber_id").size(),
        }
    )
    return complaints, surveys


def _retention(t: dict[str, pd.DataFrame], snapshot: date) -> pd.DataFrame:
    columns = ["retention_offers_180d", "days_since_retention_offer"]
    if "retention_contacts" not in t:
        return pd.DataFrame(columns=columns, dtype=float)
    contacts = latest(t["retention_contacts"], "retention_contacts")
    day = pd.to_datetime(contacts["contact_date"])
    end = pd.Timestamp(snapshot)
    offered = contacts[(day <= end) & ~contacts["holdout"].astype(bool)].assign(day=day)
    offered = offered.assign(recent=offered["day"] > end - timedelta(days=180))
    agg = offered.groupby("subscriber_id").agg(
        retention_offers_180d=("recent", "sum"), last=("day", "max")
    )
    agg["days_since_retention_offer"] = (end - agg["last"]).dt.days
    return agg[columns]


def compute(tables: dict[str, pd.DataFrame], snapshot: date) -> pd.DataFrame:
    """The feature table for ``snapshot`` from tables already in memory."""
    base = _base(tables, snapshot)
    complaints, surveys = _care(tables, snapshot)
    joined = base
    parts = (
        _usage(tables, snapshot),
        _events(tables, snapshot),
        complaints,
        surveys,
        _retention(tables, snapshot),
    )
    for part in parts:
        joined = joined.merge(part, how="left", left_on="subscriber_id", right_index=True)
    for column in ZERO_WHEN_ABSENT:
        joined[column] = joined[column].fillna(0).astype(np.int64)
    joined["call_forwarding_active"] = (
        joined["call_forwarding_active"].astype("boolean").fillna(False).astype(bool)
    )
    joined["status"] = joined["_event_status"].fillna(joined["_status_at_delivery"])
    return joined.drop(columns=["_event_status", "_status_at_delivery"]).reset_index(drop=True)


def pandas_features(
    warehouse_path: Path, snapshot: date, timings: dict[str, float] | None = None
) -> pd.DataFrame:
    """Read the warehouse into DataFrames, then compute the features for ``snapshot``.

    When ``timings`` is given, the seconds spent reading and computing are stored in it
    (keys ``read`` and ``compute``).
    """
    start = time.perf_counter()
    tables = read_tables(warehouse_path)
    read_done = time.perf_counter()
    features = compute(tables, snapshot)
    if timings is not None:
        timings["read"] = read_done - start
        timings["compute"] = time.perf_counter() - read_done
    return features
