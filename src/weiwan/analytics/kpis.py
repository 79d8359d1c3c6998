"""Dashboard figures from the warehouse (监控指标): churn rates, churn analysis, satisfaction,
complaints, the dissatisfied-customer list and the model monitor, as one long table.

Every row is ``metric, period, dimension, member, branch, value, numerator, denominator``:
rates are ``numerator / denominator`` per branch, so the operational side can add branches up
within a reader's data scope and recompute the rate (never an average of rates). Rows whose
figure cannot be added up (a model's AUC, a feature's PSI) carry ``branch`` NULL.

Definitions (PRODUCT.md "Measure"):

- ``churn_rate``: subscribers whose first churn record falls in the month ÷ subscribers that
  joined before the month and had not churned before it (active at the month start); per
  branch and by ``total``, ``brand``, join ``channel`` and ``payment_type`` (the prepaid /
  postpaid segment), for the ``MONTHS`` complete months up to the snapshot.
- churn analysis over the same months' leavers: ``churn_reason`` (and ``churn_reason_kind``
  internal / external, ``churn_reason_control`` controllable / not), ``churn_destination``,
  ``churn_tenure`` (tenure band of leavers at leaving vs the active base at the snapshot),
  ``churn_touchpoint`` (leavers with a complaint of a category or a survey at a touchpoint in
  the ``TOUCH_DAYS`` days before leaving), ``churn_cost`` (``direct``: the monthly bill lost,
  ``lost_future``: ``FUTURE_MONTHS`` months of it, ``retention_effort``: the cost of retention
  actions decided for customers who left anyway).
- satisfaction per month: ``satisfaction_rate`` (scores ≥ ``SATISFIED_FROM``),
  ``dissatisfaction_rate`` (scores ≤ ``DISSATISFIED_UP_TO``), ``satisfaction_score`` (mean),
  each also by touchpoint; ``complaint_rate`` (complaints ÷ subscribers active at the month
  start), ``complaint_resolution_rate``, ``complaint_hours`` (mean hours to resolve).
- ``model_auc``: the realised ROC AUC of each stored score snapshot whose one-month outcome is
  known; ``psi``: each feature's (and the score's) population stability per snapshot.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from weiwan.analytics.churn.labels import horizon_end, labels
from weiwan.analytics.churn.metrics import evaluate
from weiwan.analytics.features import as_of_rows
from weiwan.core.months import add_months, last_complete_month, month_end

METRIC_COLUMNS = (
    "metric",
    "period",
    "dimension",
    "member",
    "branch",
    "value",
    "numerator",
    "denominator",
)
MONTHS = 12
TOUCH_DAYS = 90
FUTURE_MONTHS = 12
SATISFIED_FROM = 8
DISSATISFIED_UP_TO = 6
DISSATISFIED_MONTHS = 3
UNKNOWN = "unknown"
ALL = "all"
#: what deliveries write for a destination nobody knows (未知, 不详, ...): counted as UNKNOWN,
#: never as a competitor of that name (compared trimmed and lower-cased)
UNKNOWN_DESTINATIONS = ("未知", "不详", "不明", "unknown", "n/a", "na", "null", "none", "-", "")
#: churn reason -> (internal or external, controllable or not) (流失原因分类)
REASON_KINDS: dict[str, tuple[str, str]] = {
    "price": ("internal", "controllable"),
    "network_quality": ("internal", "controllable"),
    "service": ("internal", "controllable"),
    "contract_end": ("internal", "controllable"),
    "competitor_offer": ("external", "controllable"),
    "relocation": ("external", "uncontrollable"),
    "non_payment": ("external", "uncontrollable"),
    "other": ("external", "uncontrollable"),
}
#: tenure bands in months: (from, below, label)
TENURE_BANDS: tuple[tuple[int, int | None, str], ...] = (
    (0, 6, "0-6"),
    (6, 12, "6-12"),
    (12, 24, "12-24"),
    (24, 36, "24-36"),
    (36, 60, "36-60"),
    (60, None, "60+"),
)
#: churn_rate dimensions: name -> subscriber column (``total`` is every subscriber)
CHURN_DIMENSIONS = ("total", "brand", "channel", "payment_type")


class Source(Protocol):
    """What the figures read: the warehouse (contract tables and stored results)."""

    def table(self, name: str) -> ir.Table: ...

    def extra_columns(self, table_name: str) -> dict[str, str]: ...

    def single_delivery(self, name: str) -> bool: ...

    def has_table(self, name: str) -> bool: ...


def report_months(snapshot: date, count: int = MONTHS, last: date | None = None) -> list[date]:
    """The first days of the ``count`` complete months up to ``snapshot`` (or up to the month
    ``last`` when given), oldest first."""
    end = last_complete_month(snapshot) if last is None else last.replace(day=1)
    return [add_months(end, -k) for k in reversed(range(count))]


def _frame(rows: pd.DataFrame | list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in METRIC_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame = frame[list(METRIC_COLUMNS)].copy()
    if not frame.empty:
        frame["period"] = pd.to_datetime(frame["period"]).dt.date
    # float columns (not all-None objects): concatenating them keeps one dtype, no FutureWarning
    for column in ("value", "numerator", "denominator"):
        frame[column] = frame[column].astype(float)
    ratio = frame["numerator"] / frame["denominator"].replace(0, np.nan)
    frame["value"] = frame["value"].where(frame["value"].notna(), ratio)
    return frame


def _months_between(start: ir.DateValue, end: ir.DateValue) -> ir.IntegerValue:
    months = (end.year() - start.year()) * 12 + (end.month() - start.month())
    return months - ibis.ifelse(end.day() < start.day(), 1, 0)


def _tenure_band(months: ir.IntegerValue) -> ir.StringValue:
    cases = [
        ((months >= low) & (months < high) if high is not None else months >= low, label)
        for low, high, label in TENURE_BANDS
    ]
    return ibis.cases(*cases, else_=UNKNOWN)


def _subscribers(wh: Source, snapshot: date) -> ir.Table:
    """One row per subscriber: dimensions, join date and first churn date up to the snapshot."""
    subs = as_of_rows(wh, "subscribers", snapshot)
    churn = as_of_rows(wh, "churn_records", snapshot)
    churn = churn.filter(churn.churn_date <= snapshot)
    first = churn.group_by("subscriber_id").aggregate(c_date=churn.churn_date.min())
    first = first.select(c_sid=first.subscriber_id, churn_date=first.c_date)
    rows = subs.select(
        "subscriber_id",
        "join_date",
        branch=subs.branch.fill_null(UNKNOWN),
        brand=subs.brand.fill_null(UNKNOWN),
        channel=subs.join_channel.fill_null(UNKNOWN),
        payment_type=subs.payment_type.fill_null(UNKNOWN),
    )
    joined = rows.left_join(first, rows.subscriber_id == first.c_sid)
    return joined.drop("c_sid")


def _calendar(months: list[date]) -> ir.Table:
    ends = [add_months(m, 1) for m in months]
    return ibis.memtable(pd.DataFrame({"month_start": months, "month_end": ends}))


def churn_rates(
    wh: Source,
    snapshot: date,
    months: int = MONTHS + 1,
    *,
    last: date | None = None,
    keep_early: bool = False,
) -> pd.DataFrame:
    """``churn_rate`` per month, branch and dimension member (see the module doc), for the
    ``months`` months ending with ``last`` (default: the snapshot's last complete month).
    Months before the window's first churn are left out unless ``keep_early``
    (:func:`drop_early` applies the rule to part of the window later)."""
    subs = _subscribers(wh, snapshot)
    joined = _calendar(report_months(snapshot, months, last)).cross_join(subs)
    at_start = (joined.join_date < joined.month_start) & (
        joined.churn_date.isnull() | (joined.churn_date >= joined.month_start)
    )
    churned = at_start & (joined.churn_date < joined.month_end).fill_null(False)
    flagged = joined.mutate(
        at_start=at_start.cast("int64"), churned=churned.cast("int64"), total=ibis.literal(ALL)
    )
    parts = []
    for dimension in CHURN_DIMENSIONS:
        grouped = flagged.group_by(
            [flagged.month_start, flagged.branch, flagged[dimension].name("member")]
        ).aggregate(numerator=flagged.churned.sum(), denominator=flagged.at_start.sum())
        parts.append(grouped.mutate(dimension=ibis.literal(dimension)))
    stats = ibis.union(*parts).filter(lambda t: t.denominator > 0).to_pandas()
    stats = stats.rename(columns={"month_start": "period"})
    stats["metric"] = "churn_rate"
    frame = _frame(stats)
    return frame if keep_early else drop_early(frame)


def drop_early(rates: pd.DataFrame) -> pd.DataFrame:
    """``churn_rate`` rows without the months before the first month with churn: no history
    delivered, not no churn."""
    churned_months = rates.loc[rates["numerator"] > 0, "period"]
    if churned_months.empty:
        return rates
    kept: pd.DataFrame = rates[rates["period"] >= churned_months.min()]
    return kept


def _destination(column: ir.StringValue) -> ir.StringValue:
    """The competitor a leaver went to, trimmed; :data:`UNKNOWN` when blank or an unknown token."""
    name = column.strip()
    unknown = name.isnull() | name.lower().isin(UNKNOWN_DESTINATIONS)
    result: ir.StringValue = ibis.ifelse(unknown, UNKNOWN, name)
    return result


def delivered_months(wh: Source, snapshot: date) -> set[date]:
    """The bill months (first days) with monthly usage delivered up to ``snapshot``."""
    usage = as_of_rows(wh, "monthly_usage", snapshot)
    months = usage.select(month=usage.bill_month.cast("date")).distinct().to_pandas()
    return {pd.Timestamp(m).date().replace(day=1) for m in months["month"].dropna()}


def leavers_table(wh: Source, snapshot: date, months: int, last: date | None = None) -> ir.Table:
    """Subscribers whose first churn falls in the report months (ending with ``last``), with
    reason, destination, tenure at leaving and the last bill before leaving."""
    window = report_months(snapshot, months, last)
    start, end = window[0], add_months(window[-1], 1)
    subs = _subscribers(wh, snapshot)
    left = subs.filter((subs.churn_date >= start) & (subs.churn_date < end))
    churn = as_of_rows(wh, "churn_records", snapshot)
    detail = churn.select(
        d_sid=churn.subscriber_id,
        d_date=churn.churn_date,
        reason=churn.reason_code.fill_null(UNKNOWN),
        destination=_destination(churn.destination_competitor),
    )
    left = left.left_join(
        detail, (left.subscriber_id == detail.d_sid) & (left.churn_date == detail.d_date)
    ).drop("d_sid", "d_date")
    left = left.distinct(on=["subscriber_id"], keep="first")
    usage = as_of_rows(wh, "monthly_usage", snapshot)
    keys = left.select(b_sid=left.subscriber_id, b_date=left.churn_date)
    bills = usage.join(keys, usage.subscriber_id == keys.b_sid)
    bills = bills.filter(bills.bill_month < bills.b_date)
    last_bill = bills.group_by("b_sid").aggregate(
        last_bill=bills.bill_amount.argmax(bills.bill_month)
    )
    left = left.left_join(last_bill, left.subscriber_id == last_bill.b_sid).drop("b_sid")
    return left.mutate(
        tenure_band=_tenure_band(_months_between(left.join_date, left.churn_date)),
        last_bill=left.last_bill.fill_null(0.0),
    )


def _shares(leavers: pd.DataFrame, metric: str, dimension: str, column: str) -> pd.DataFrame:
    """Leavers per branch and ``column`` value over the branch's leavers."""
    counts = leavers.groupby(["branch", column]).size().rename("numerator").reset_index()
    totals = leavers.groupby("branch").size().rename("denominator")
    counts = counts.join(totals, on="branch").rename(columns={column: "member"})
    return counts.assign(metric=metric, dimension=dimension)


def churn_analysis(
    wh: Source, snapshot: date, months: int = MONTHS, *, last: date | None = None
) -> pd.DataFrame:
    """Reasons, destinations, tenure vs base, touchpoints and cost of the report months'
    leavers, per branch (``period`` = the last report month: ``last``, default the snapshot's
    last complete month). The base's tenure is taken at the snapshot when the period is the
    snapshot's last complete month, else at the period's last day."""
    period = report_months(snapshot, 1, last)[0]
    return churn_analyses(wh, snapshot, [period], months)[period]


def churn_analyses(
    wh: Source, snapshot: date, lasts: list[date], months: int = MONTHS
) -> dict[date, pd.DataFrame]:
    """:func:`churn_analysis` with each of ``lasts`` as last report month (keyed by its first
    day), from one pass over each input for all of them: the leavers of the whole span, their
    touchpoints and retention effort once, the bases' tenure for every base day in one query."""
    periods = sorted({m.replace(day=1) for m in lasts})
    latest = report_months(snapshot, 1)[0]
    base_days = {p: snapshot if p == latest else month_end(p) for p in periods}
    span = report_months(snapshot, months + _months_apart(periods[0], periods[-1]), periods[-1])
    expr = leavers_table(wh, snapshot, len(span), periods[-1])
    # in one order, so a month's sums add the same leavers in the same order however batched
    everyone: pd.DataFrame = expr.to_pandas().sort_values("subscriber_id", kind="stable")
    everyone = everyone.reset_index(drop=True)
    touched = effort = pd.DataFrame()
    if not everyone.empty:
        everyone["churn_date"] = pd.to_datetime(everyone["churn_date"]).dt.date
        kinds = everyone["reason"].map(lambda r: REASON_KINDS.get(r, (UNKNOWN, UNKNOWN)))
        everyone["reason_kind"] = [k[0] for k in kinds]
        everyone["reason_control"] = [k[1] for k in kinds]
        touched = _touches(wh, snapshot, expr)
        effort = _effort(wh, snapshot, expr, span[0])
    bases = _base_tenures(wh, snapshot, sorted(set(base_days.values())))
    out: dict[date, pd.DataFrame] = {}
    for period in periods:
        window = report_months(snapshot, months, period)
        parts: list[pd.DataFrame] = []
        leavers = everyone
        if not everyone.empty:
            inside = (everyone["churn_date"] >= window[0]) & (
                everyone["churn_date"] < add_months(period, 1)
            )
            leavers = everyone[inside].reset_index(drop=True)
        if not leavers.empty:
            parts += [
                _shares(leavers, "churn_reason", "reason", "reason"),
                _shares(leavers, "churn_reason_kind", "reason_kind", "reason_kind"),
                _shares(leavers, "churn_reason_control", "reason_control", "reason_control"),
                _shares(leavers, "churn_destination", "destination", "destination"),
                _shares(leavers, "churn_tenure", "leavers", "tenure_band"),
                _touchpoints(touched, leavers),
                _costs(effort, leavers, window),
            ]
        base = bases[bases["day"] == base_days[period]].drop(columns="day")
        parts.append(base.reset_index(drop=True))
        frame = pd.concat([_complete(p) for p in parts if not p.empty], ignore_index=True)
        frame["period"] = period
        out[period] = _frame(frame)
    return out


def _months_apart(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month


def _complete(rows: pd.DataFrame) -> pd.DataFrame:
    """Share rows with every member in every branch (numerator 0 where none), so shares of
    several branches add up over one denominator per branch."""
    denominators = rows.groupby("branch")["denominator"].first()
    index = pd.MultiIndex.from_product(
        [list(denominators.index), list(rows["member"].unique())], names=["branch", "member"]
    )
    full = rows.set_index(["branch", "member"])["numerator"].reindex(index, fill_value=0)
    out = full.reset_index()
    out["denominator"] = out["branch"].map(denominators)
    return out.assign(metric=rows["metric"].iloc[0], dimension=rows["dimension"].iloc[0])


def _base_tenures(wh: Source, snapshot: date, days: list[date]) -> pd.DataFrame:
    """The active base's tenure bands per branch on each of ``days`` (column ``day``)."""
    subs = _subscribers(wh, snapshot)
    cal = ibis.memtable(pd.DataFrame({"day": days}), schema=ibis.schema({"day": "date"}))
    rows = subs.cross_join(cal)
    active = rows.filter(
        (rows.join_date <= rows.day) & (rows.churn_date.isnull() | (rows.churn_date > rows.day))
    )
    banded = active.mutate(member=_tenure_band(_months_between(active.join_date, active.day)))
    grouped = banded.group_by(["day", "branch", "member"]).aggregate(numerator=banded.count())
    counts: pd.DataFrame = grouped.to_pandas()
    counts["day"] = pd.to_datetime(counts["day"]).dt.date
    counts["denominator"] = counts.groupby(["day", "branch"])["numerator"].transform("sum")
    counts["metric"], counts["dimension"] = "churn_tenure", "base"
    return counts


def _touches(wh: Source, snapshot: date, leavers_expr: ir.Table) -> pd.DataFrame:
    """(subscriber_id, member): the leavers' complaints (by category) and surveys (by
    touchpoint) in the ``TOUCH_DAYS`` days up to leaving."""
    keys = leavers_expr.select(t_sid=leavers_expr.subscriber_id, t_date=leavers_expr.churn_date)
    since = ibis.interval(days=TOUCH_DAYS)
    touches = []
    for table, time, column, prefix in (
        ("complaints", "complaint_time", "category", "complaint_"),
        ("surveys", "survey_time", "touchpoint", "survey_"),
    ):
        events = as_of_rows(wh, table, snapshot)
        joined = events.join(keys, events.subscriber_id == keys.t_sid)
        day = joined[time].date()
        joined = joined.filter((day <= joined.t_date) & (day > joined.t_date - since))
        touches.append(
            joined.select(
                subscriber_id=joined.t_sid, member=ibis.literal(prefix) + joined[column]
            ).distinct()
        )
    touched: pd.DataFrame = ibis.union(*touches).to_pandas()
    return touched


def _touchpoints(touched: pd.DataFrame, leavers: pd.DataFrame) -> pd.DataFrame:
    """Leavers with a complaint (by category) or a survey (by touchpoint) shortly before
    leaving (``touched``: :func:`_touches`), per branch; ``none`` for leavers with neither."""
    branch_of = leavers.set_index("subscriber_id")["branch"]
    touched = touched[touched["subscriber_id"].isin(branch_of.index)].copy()
    touched["branch"] = touched["subscriber_id"].map(branch_of)
    counts = touched.groupby(["branch", "member"]).size().rename("numerator").reset_index()
    with_touch = touched.groupby("branch")["subscriber_id"].nunique()
    totals = leavers.groupby("branch").size()
    none = (totals - with_touch.reindex(totals.index).fillna(0)).rename("numerator")
    none_rows = none.reset_index().assign(member="none")
    # only non-empty parts: pandas deprecates concatenating empty frames (FutureWarning)
    rows: pd.DataFrame = pd.concat(
        [p for p in (counts, none_rows) if not p.empty], ignore_index=True
    )
    rows["denominator"] = rows["branch"].map(totals)
    rows["metric"], rows["dimension"] = "churn_touchpoint", "touchpoint"
    return rows


def _effort(wh: Source, snapshot: date, leavers_expr: ir.Table, since: date) -> pd.DataFrame:
    """The acted retention decisions of the leavers from ``since`` to the snapshot, as
    (subscriber_id, day, cost) summed per day (empty without decisions)."""
    if not wh.has_table("decisions"):
        return pd.DataFrame(columns=["subscriber_id", "day", "cost"])
    decisions = wh.table("decisions")
    acted = decisions.filter(
        decisions.action.fill_null(False)
        & (decisions.snapshot_date >= since)
        & (decisions.snapshot_date <= snapshot)
    )
    keys = leavers_expr.select(e_sid=leavers_expr.subscriber_id)
    acted = acted.join(keys, acted.subscriber_id == keys.e_sid)
    per_day = acted.group_by(["subscriber_id", acted.snapshot_date.name("day")]).aggregate(
        cost=acted.cost.fill_null(0.0).sum()
    )
    frame: pd.DataFrame = per_day.to_pandas()
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    return frame


def _costs(effort: pd.DataFrame, leavers: pd.DataFrame, window: list[date]) -> pd.DataFrame:
    """Direct (monthly bill lost), lost future revenue and the retention effort spent on
    leavers (``effort``: :func:`_effort`, counted from the window's first month), per branch;
    ``denominator`` = leavers."""
    spent = effort[effort["day"] >= window[0]]
    cost = pd.Series(0.0, index=leavers.index)
    if not spent.empty:
        per = spent.groupby("subscriber_id").agg(cost=("cost", "sum"), first=("day", "min"))
        first = leavers["subscriber_id"].map(per["first"])
        cost = leavers["subscriber_id"].map(per["cost"]).fillna(0.0)
        before = pd.to_datetime(first) <= pd.to_datetime(leavers["churn_date"])
        cost = cost.where(before.fillna(False), 0.0)
    frame = pd.DataFrame(
        {
            "branch": leavers["branch"],
            "direct": leavers["last_bill"].astype(float),
            "lost_future": leavers["last_bill"].astype(float) * FUTURE_MONTHS,
            "retention_effort": cost.astype(float),
        }
    )
    sums = frame.groupby("branch").sum()
    counts = frame.groupby("branch").size()
    rows = sums.stack().reset_index()
    rows.columns = pd.Index(["branch", "member", "numerator"])
    rows["denominator"] = rows["branch"].map(counts).astype(float)
    return rows.assign(metric="churn_cost", dimension="cost")


def satisfaction(
    wh: Source, snapshot: date, months: int = MONTHS + 1, rates: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Survey and complaint figures per month and branch (see the module doc); ``rates`` are
    the ``churn_rates`` of the same months if already computed (their bases are reused)."""
    window = report_months(snapshot, months)
    start, end = window[0], add_months(window[-1], 1)
    subs = _subscribers(wh, snapshot).select(s_sid="subscriber_id", branch="branch")
    surveys = as_of_rows(wh, "surveys", snapshot)
    surveys = surveys.filter(
        (surveys.survey_time >= start) & (surveys.survey_time < ibis.literal(end).cast("timestamp"))
    )
    s = surveys.join(subs, surveys.subscriber_id == subs.s_sid)
    s = s.mutate(period=s.survey_time.truncate("M").date(), member=s.touchpoint)
    parts: list[pd.DataFrame] = []
    for dimension in ("total", "touchpoint"):
        member = ibis.literal(ALL) if dimension == "total" else s.member
        grouped = s.group_by([s.period, s.branch, member.name("member")]).aggregate(
            surveys=s.count(),
            satisfied=(s.score >= SATISFIED_FROM).cast("int64").sum(),
            dissatisfied=(s.score <= DISSATISFIED_UP_TO).cast("int64").sum(),
            score_sum=s.score.sum().cast("float64"),
        )
        g = grouped.to_pandas()
        for metric, numerator in (
            ("satisfaction_rate", "satisfied"),
            ("dissatisfaction_rate", "dissatisfied"),
            ("satisfaction_score", "score_sum"),
        ):
            parts.append(
                g.assign(
                    metric=metric,
                    dimension=dimension,
                    numerator=g[numerator],
                    denominator=g["surveys"],
                )
            )
    complaints = as_of_rows(wh, "complaints", snapshot)
    complaints = complaints.filter(
        (complaints.complaint_time >= start)
        & (complaints.complaint_time < ibis.literal(end).cast("timestamp"))
    )
    c = complaints.join(subs, complaints.subscriber_id == subs.s_sid)
    c = c.mutate(period=c.complaint_time.truncate("M").date())
    g = (
        c.group_by(["period", "branch"])
        .aggregate(
            complaints=c.count(),
            resolved=c.resolved.fill_null(False).cast("int64").sum(),
            hours=c.hours_to_resolve.sum(),
            timed=c.hours_to_resolve.count(),
        )
        .to_pandas()
    )
    g["period"] = pd.to_datetime(g["period"]).dt.date
    common = {"dimension": "total", "member": ALL}
    parts.append(
        g.assign(
            metric="complaint_resolution_rate",
            numerator=g["resolved"],
            denominator=g["complaints"],
            **common,
        )
    )
    parts.append(
        g.assign(metric="complaint_hours", numerator=g["hours"], denominator=g["timed"], **common)
    )
    base = churn_rates(wh, snapshot, months) if rates is None else rates
    base = base[base["dimension"] == "total"][["period", "branch", "denominator"]]
    counted = g[["period", "branch", "complaints"]].merge(
        base, on=["period", "branch"], how="right"
    )
    counted["numerator"] = counted["complaints"].fillna(0)
    parts.append(counted.assign(metric="complaint_rate", **common))
    frame = pd.concat([p for p in parts if not p.empty], ignore_index=True)
    return _frame(frame)


def dissatisfied_customers(wh: Source, snapshot: date) -> pd.DataFrame:
    """Survey answers scoring ≤ ``DISSATISFIED_UP_TO`` in the last ``DISSATISFIED_MONTHS``
    months up to the snapshot by subscribers who have not left (for second care, 二次关怀):
    subscriber, branch, time, touchpoint, score; newest first."""
    start = report_months(snapshot, DISSATISFIED_MONTHS)[0]
    subs = as_of_rows(wh, "subscribers", snapshot).select(s_sid="subscriber_id", branch="branch")
    surveys = as_of_rows(wh, "surveys", snapshot)
    low = surveys.filter(
        (surveys.score <= DISSATISFIED_UP_TO)
        & (surveys.survey_time >= start)
        & (surveys.survey_time.date() <= snapshot)
    )
    joined = low.left_join(subs, low.subscriber_id == subs.s_sid)
    churn = as_of_rows(wh, "churn_records", snapshot)
    left = churn.filter(churn.churn_date <= snapshot).select(c_sid="subscriber_id").distinct()
    joined = joined.anti_join(left, joined.subscriber_id == left.c_sid)
    rows = joined.select("subscriber_id", "branch", "survey_time", "touchpoint", "score").order_by(
        [ibis.desc("survey_time"), "subscriber_id"]
    )
    frame: pd.DataFrame = rows.to_pandas()
    return frame


def model_monitor(wh: Source, snapshot: date, horizon_months: int = 1) -> pd.DataFrame:
    """``model_auc`` of every stored score snapshot whose outcome window closed by the
    snapshot, and ``psi`` of every feature per drift snapshot (last ``MONTHS`` + 1)."""
    parts: list[pd.DataFrame] = []
    if wh.has_table("scores"):
        scores = wh.table("scores")
        days = sorted(
            d
            for d in scores.select("snapshot_date").distinct().to_pandas()["snapshot_date"]
            if horizon_end(pd.Timestamp(d).date(), horizon_months) <= snapshot
        )
        rows = []
        for day in days[-(MONTHS + 1) :]:
            day = pd.Timestamp(day).date()
            scored = scores.filter(scores.snapshot_date == day)
            churned = labels(wh, day, horizon_months=horizon_months, known_until=snapshot)
            churned = churned.select(l_sid="subscriber_id", churned="churned")
            joined = scored.left_join(churned, scored.subscriber_id == churned.l_sid)
            frame = joined.select(
                "churn_probability", "model_version", churned=joined.churned.fill_null(False)
            ).to_pandas()
            frame = frame.dropna(subset=["churn_probability"])
            if frame.empty:
                continue
            figures = evaluate(frame["churned"], frame["churn_probability"])
            versions = frame["model_version"].dropna()
            rows.append(
                {
                    "metric": "model_auc",
                    "period": day,
                    "dimension": "realised",
                    "member": str(versions.mode().iloc[0]) if not versions.empty else UNKNOWN,
                    "value": figures["roc_auc"],
                    "numerator": float(frame["churned"].sum()),
                    "denominator": float(len(frame)),
                }
            )
        parts.append(pd.DataFrame(rows))
    if wh.has_table("drift"):
        drift = wh.table("drift")
        recent = drift.select("snapshot_date").distinct().order_by(ibis.desc("snapshot_date"))
        keep = list(recent.limit(MONTHS + 1).to_pandas()["snapshot_date"])
        table = drift.filter(drift.snapshot_date.isin(keep)).to_pandas()
        parts.append(
            pd.DataFrame(
                {
                    "metric": "psi",
                    "period": pd.to_datetime(table["snapshot_date"]).dt.date,
                    "dimension": "feature",
                    "member": table["feature"],
                    "value": table["psi"].astype(float),
                }
            )
        )
    parts = [p for p in parts if not p.empty]
    if not parts:
        return _frame([])
    return _frame(pd.concat(parts, ignore_index=True))


def all_metrics(wh: Source, snapshot: date) -> pd.DataFrame:
    """Every dashboard figure of ``snapshot`` (one long table, see the module doc)."""
    rates = churn_rates(wh, snapshot)
    parts = [
        rates,
        churn_analysis(wh, snapshot),
        satisfaction(wh, snapshot, rates=rates),
        model_monitor(wh, snapshot),
    ]
    return _frame(pd.concat([p for p in parts if not p.empty], ignore_index=True))
