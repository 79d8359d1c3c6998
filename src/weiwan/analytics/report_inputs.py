"""Fingerprints of what each published report is built from, so a publish rebuilds only the
periods whose inputs changed (docs/reports.md, "What is rebuilt when").

Each input table is read once: per day of its date column, the count of rows and the sum of a
hash of the columns the reports use (as delivered by the snapshot), so a late delivery, a
correction or a re-run pipeline day changes the sums of the days it touches. A period's
fingerprint adds up the days its figures read:

- week / month ``[s, e)`` with last year's ``[s', e')``: subscribers joined and churn before
  ``e`` (the bases), surveys, accepted contacts and retention outcomes in either period,
  decisions before ``e`` (costs, and the value of a save is that of an earlier decision),
  the stored segments each start takes its tiers from, and, where tiers are computed from the
  bills, the bills before ``s``, the value-tier rule and the deliveries of subscribers, churn
  and bills up to ``e`` (the eve's view); whether last year's churn is known;
- churn analysis of month ``M`` (window ``[w0, e)``): subscribers and churn up to the base
  day (the snapshot for the latest month: it changes every day), bills before ``e`` and the
  window's months without bills, complaints and surveys from ``TOUCH_DAYS`` before ``w0``,
  and the leavers' decisions since ``w0`` and CLV snapshots;
- everything: :data:`VERSION` (bumped when a definition changes) and what the caller adds
  (the targets, the branch tree of the scopes).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from weiwan.analytics.features import as_of_rows
from weiwan.analytics.kpis import MONTHS, TOUCH_DAYS, Source, delivered_months, report_months
from weiwan.analytics.period_reports import Period, first_churn
from weiwan.analytics.segments import load_segment_config
from weiwan.core.months import month_end

#: the reports' definitions: bump to rebuild every published report once (2: unknown figures
#: read 无数据 / n/a in the findings, not a dash)
VERSION = 2
#: stored kinds: a week, a month, a month's churn analysis
CHURN = "churn"
_PRIME = 2_147_483_647
#: contract tables (read as of the snapshot): date column, columns the reports use
_CONTRACT = {
    "subscribers": (
        "join_date",
        ("subscriber_id", "join_date", "branch", "brand", "join_channel", "payment_type"),
    ),
    "churn_records": (
        "churn_date",
        ("subscriber_id", "churn_date", "reason_code", "destination_competitor"),
    ),
    "surveys": ("survey_time", ("subscriber_id", "survey_time", "score", "touchpoint")),
    "complaints": ("complaint_time", ("subscriber_id", "complaint_time", "category")),
    "monthly_usage": ("bill_month", ("subscriber_id", "bill_month", "bill_amount")),
}
#: stored pipeline results (every row): date column, columns the reports use
_STORED = {
    "ops_contacts": (
        "contact_date",
        ("subscriber_id", "contact_date", "status", "accepted", "channel", "at"),
    ),
    "decisions": (
        "snapshot_date",
        (
            "subscriber_id",
            "snapshot_date",
            "action",
            "value_saved",
            "channel",
            "cost",
            "offer_type",
        ),
    ),
    "retention_outcomes": (
        "snapshot_date",
        ("subscriber_id", "snapshot_date", "offer_type", "treated", "churned"),
    ),
    "segments": ("snapshot_date", ("subscriber_id", "value_tier")),
}
#: tables whose version as of a period's eve computes its value tiers
_EVE_TABLES = ("subscribers", "churn_records", "monthly_usage")


def _digest(rows: ir.Table, columns: tuple[str, ...]) -> ir.IntegerValue:
    """Each row's hash of ``columns`` (NULL and empty told apart), in ``[0, _PRIME)``."""
    parts = [rows[c].cast("string").fill_null("\x00") for c in columns]
    value = ibis.literal("\x1f").join(parts).hash()
    # Spark's hash is a signed 32-bit int, DuckDB's an unsigned 64-bit one: a negative
    # remainder is lifted by _PRIME, which overflows neither (Spark's ANSI mode refuses
    # overflow, and Ibis keeps Spark's int however it is cast)
    reduced = value % _PRIME
    digest: ir.IntegerValue = ibis.ifelse(reduced < 0, reduced + _PRIME, reduced)
    return digest


def _daily(rows: ir.Table, day: ir.Value, columns: tuple[str, ...]) -> pd.DataFrame:
    """Rows and summed hashes per day: columns ``day`` (date), ``n``, ``h``."""
    keyed = rows.mutate(_day=day.cast("date"), _h=_digest(rows, columns))
    grouped = keyed.group_by("_day").aggregate(n=keyed.count(), h=keyed._h.sum())
    frame: pd.DataFrame = grouped.to_pandas()
    return _days(frame.rename(columns={"_day": "day"}))


def _days(frame: pd.DataFrame) -> pd.DataFrame:
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    frame[["n", "h"]] = frame[["n", "h"]].fillna(0).astype("int64")
    return frame.sort_values("day").reset_index(drop=True)


@dataclass(frozen=True)
class _Days:
    """A table's per-day counts and hash sums, summed over a range of days in O(log n)."""

    days: np.ndarray
    n: np.ndarray
    h: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _Days:
        frame = frame.dropna(subset=["day"])
        days = np.array([d.toordinal() for d in frame["day"]], dtype=np.int64)
        zero = np.zeros(1, dtype=object)
        n = np.concatenate([zero, np.cumsum(frame["n"].to_numpy(dtype=object))])
        h = np.concatenate([zero, np.cumsum(frame["h"].to_numpy(dtype=object))])
        return cls(days, n, h)

    def between(self, low: date | None, high: date) -> list[int]:
        """[rows, hash sum] of the days in ``[low, high)`` (``low`` None: from the start)."""
        i = 0 if low is None else int(np.searchsorted(self.days, low.toordinal(), "left"))
        j = int(np.searchsorted(self.days, high.toordinal(), "left"))
        j = max(i, j)
        return [int(self.n[j] - self.n[i]), int(self.h[j] - self.h[i]) % _PRIME]


def _leavers(wh: Source, snapshot: date) -> ir.Table:
    churn = as_of_rows(wh, "churn_records", snapshot)
    churn = churn.filter(churn.churn_date <= snapshot)
    first = churn.group_by("subscriber_id").aggregate(c_day=churn.churn_date.min())
    return first.select(l_sid=first.subscriber_id, c_day=first.c_day)


def _leaver_days(wh: Source, snapshot: date, name: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """Rows of stored ``name`` of subscribers who left, per (leaving day ``c_day``, ``day``)."""
    if not wh.has_table(name):
        return pd.DataFrame(columns=["c_day", "day", "n", "h"])
    rows = wh.table(name)
    leavers = _leavers(wh, snapshot)
    joined = rows.join(leavers, rows.subscriber_id == leavers.l_sid)
    keyed = joined.mutate(_h=_digest(joined, columns))
    grouped = keyed.group_by(["c_day", keyed.snapshot_date.name("day")]).aggregate(
        n=keyed.count(), h=keyed._h.sum()
    )
    frame = _days(grouped.to_pandas())
    frame["c_day"] = pd.to_datetime(frame["c_day"]).dt.date
    return frame


def _deliveries(wh: Source) -> pd.DataFrame:
    """The ingest log of the tables the eve's tiers read: table, day, file and mapping."""
    columns = ["table_name", "day", "fingerprint", "mapping_fingerprint"]
    if not wh.has_table("ingest_log"):
        return pd.DataFrame(columns=columns)
    log = wh.table("ingest_log")
    log = log.filter(log.table_name.isin(list(_EVE_TABLES)))
    frame: pd.DataFrame = log.select(
        "table_name", "fingerprint", "mapping_fingerprint", day=log["_snapshot"]
    ).to_pandas()
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    return frame[columns].sort_values(columns).reset_index(drop=True)


class _Inputs:
    """Every input read once for a snapshot; :meth:`of` a (kind, period)."""

    def __init__(self, wh: Source, snapshot: date, extra: Mapping[str, Any]) -> None:
        self.snapshot = snapshot
        self.extra = json.dumps(extra, sort_keys=True, default=str)
        self.tables: dict[str, _Days] = {}
        for name, (column, columns) in _CONTRACT.items():
            rows = as_of_rows(wh, name, snapshot)
            self.tables[name] = _Days.of(_daily(rows, rows[column], columns))
        self.segment_days: dict[date, list[int]] = {}
        for name, (column, columns) in _STORED.items():
            if not wh.has_table(name):
                continue
            rows = wh.table(name)
            frame = _daily(rows, rows[column], columns)
            self.tables[name] = _Days.of(frame)
            if name == "segments":
                self.segment_days = {
                    d: [int(n), int(h)] for d, n, h in frame[["day", "n", "h"]].itertuples(False)
                }
        self.leaver_decisions = _leaver_days(wh, snapshot, "decisions", _STORED["decisions"][1])
        clv_columns = ("subscriber_id", "snapshot_date", "future_value")
        self.leaver_clv = _leaver_days(wh, snapshot, "clv", clv_columns)
        self.deliveries = _deliveries(wh)
        self.first_churn = first_churn(wh, snapshot)
        self.delivered = delivered_months(wh, snapshot)
        self.tiers = load_segment_config().value_tier.model_dump(mode="json")

    def _range(self, name: str, low: date | None, high: date) -> list[int]:
        """[rows, hash sum] of ``name`` in ``[low, high)``; a table not stored (yet) counts as
        empty, as the reports read it (a run's first decisions store its outcomes table)."""
        days = self.tables.get(name)
        return [0, 0] if days is None else days.between(low, high)

    def _segments_of(self, start: date) -> tuple[str, list[int]] | None:
        before = [d for d in self.segment_days if d <= start]
        if not before:
            return None
        day = max(before)
        return day.isoformat(), self.segment_days[day]

    def _eve(self, end: date) -> list[list[str]]:
        """The deliveries an eve before ``end`` reads: those before it and each table's first
        (a table's first delivery stands in for history delivered later)."""
        log = self.deliveries
        if log.empty:
            return []
        firsts = log.groupby("table_name")["day"].transform("min")
        kept = log[(log["day"] < end) | (log["day"] == firsts)]
        return [[str(v) for v in row] for row in kept.itertuples(index=False)]

    def _period(self, period: Period) -> dict[str, Any]:
        last = period.last_year()
        both = [(last.start, last.end), (period.start, period.end)]
        tiers = [self._segments_of(p.start) for p in (last, period)]
        parts: dict[str, Any] = {
            "known": self.first_churn is not None and last.end > self.first_churn,
            "subscribers": self._range("subscribers", None, period.end),
            "churn_records": self._range("churn_records", None, period.end),
            "decisions": self._range("decisions", None, period.end),
            "segments": tiers,
        }
        for name in ("surveys", "ops_contacts", "retention_outcomes"):
            parts[name] = [self._range(name, low, high) for low, high in both]
        if any(t is None for t in tiers):  # tiers computed from the bills as of the eve
            parts["bills"] = self._range("monthly_usage", None, period.start)
            parts["tier_rule"] = self.tiers
            parts["eve"] = self._eve(period.end)
        return parts

    def _churn(self, period: Period) -> dict[str, Any]:
        month = period.start
        latest = report_months(self.snapshot, 1)[0]
        base_day = self.snapshot if month == latest else month_end(month)
        window = report_months(self.snapshot, MONTHS, month)
        w0, end, after_base = window[0], period.end, base_day + timedelta(days=1)
        touch = w0 - timedelta(days=TOUCH_DAYS)

        def leavers(frame: pd.DataFrame, since: date | None) -> list[int]:
            inside = (frame["c_day"] >= w0) & (frame["c_day"] < end)
            if since is not None:
                inside &= frame["day"] >= since
            picked = frame[inside]
            return [int(picked["n"].sum()), int(picked["h"].sum()) % _PRIME]

        return {
            "base_day": base_day.isoformat(),
            "missing": [m.isoformat() for m in window if m not in self.delivered],
            "subscribers": self._range("subscribers", None, after_base),
            "churn_records": self._range("churn_records", None, after_base),
            "bills": self._range("monthly_usage", None, end),
            "complaints": self._range("complaints", touch, end),
            "surveys": self._range("surveys", touch, end),
            "decisions": leavers(self.leaver_decisions, w0),
            "clv": leavers(self.leaver_clv, None),
        }

    def of(self, kind: str, period: Period) -> str:
        """The fingerprint of ``kind`` (week, month or churn) of ``period``."""
        parts = self._churn(period) if kind == CHURN else self._period(period)
        text = json.dumps(
            [VERSION, kind, period.key, self.extra, parts], sort_keys=True, default=str
        )
        return hashlib.sha256(text.encode()).hexdigest()


def input_fingerprints(
    wh: Source,
    snapshot: date,
    due: list[tuple[str, Period]],
    extra: Mapping[str, Any] | None = None,
) -> dict[tuple[str, str], str]:
    """(kind, period key) → the fingerprint of that report's inputs as delivered by
    ``snapshot`` (see the module doc), each input table read once; ``extra`` (JSON-able: the
    targets, the scopes) goes into every fingerprint."""
    inputs = _Inputs(wh, snapshot, extra or {})
    return {(kind, period.key): inputs.of(kind, period) for kind, period in due}
