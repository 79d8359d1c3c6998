"""The churn analysis report (流失分析报告) of a month, as one JSON-serialisable document.

Built from the churn dashboard's own figures (``analytics.kpis.churn_analysis`` with the month
as its last report month: the leavers of the ``kpis.MONTHS`` months ending with it), so its
reasons, destinations, tenure, touchpoints and the dashboard's cost rows equal what the
dashboard shows for that month, added up over the same branches. On top:

- reason groups internal/external × controllable/not, each with the seeds' treatment;
- churn cost: ``direct`` (the last monthly bill of each leaver, the dashboard's), ``indirect``
  = ``indirect_cost_factor`` × direct (marketing, sales and service costs and brand damage the
  seeds name but do not quantify; the factor is in ``report_targets.yaml``), ``lost_future``
  = each leaver's CLV future value from the latest ``clv`` snapshot before leaving where there
  is one, else the dashboard's ``FUTURE_MONTHS`` months of the bill, and ``opportunity`` = the
  retention effort spent on leavers (the dashboard's ``retention_effort``);
- the month's churn rate against the previous month and the segment (brand, join channel,
  payment type) whose churn rose most;
- findings written from those figures in Chinese and English.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, cast

import ibis
import pandas as pd

from weiwan.analytics.churn_analysis_text import findings
from weiwan.analytics.kpis import (
    FUTURE_MONTHS,
    MONTHS,
    REASON_KINDS,
    Source,
    churn_analyses,
    churn_rates,
    delivered_months,
    drop_early,
    leavers_table,
    report_months,
)
from weiwan.analytics.period_reports import ReportTargets, load_targets
from weiwan.core.months import add_months

#: (kind, control) -> (treatment, Chinese, English): the seeds' four ways to retain by reason
#: (根据离网原因分步骤实施挽留)
TREATMENTS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("internal", "controllable"): (
        "fix_quickly",
        "集中精力迅速解决",
        "concentrate effort and fix it quickly",
    ),
    ("external", "controllable"): (
        "weigh_and_fix_systematically",
        "权衡利弊，系统地进行解决",
        "weigh the pros and cons and fix it systematically",
    ),
    ("internal", "uncontrollable"): (
        "plan_long_term",
        "制订长期规划，逐步进行改变",
        "plan for the long term and change it step by step",
    ),
    ("external", "uncontrollable"): (
        "work_the_conditions",
        "积极争取有利条件，消除影响",
        "work for favourable conditions and limit the impact",
    ),
}
SEGMENT_DIMENSIONS = ("brand", "channel", "payment_type")
#: a segment needs this many subscribers at the start of both months to be named in findings
MIN_BASE = 20


Shares = dict[tuple[str, str], list[dict[str, Any]]]


def _added(frame: pd.DataFrame) -> Shares:
    """The dashboard's way: numerators and denominators of ``frame`` (the analysis rows of
    some branches) added up per metric, dimension and member; each (metric, dimension)'s rows
    by numerator, largest first (ties by member)."""
    added = frame.groupby(["metric", "dimension", "member"])[["numerator", "denominator"]].sum()
    out: Shares = {}
    for key, row in added.to_dict("index").items():
        metric, dimension, member = cast(tuple[str, str, str], key)
        numerator, denominator = float(row["numerator"]), float(row["denominator"])
        out.setdefault((str(metric), str(dimension)), []).append(
            {
                "member": str(member),
                "numerator": numerator,
                "denominator": denominator,
                "share": numerator / denominator if denominator else None,
            }
        )
    for rows in out.values():
        rows.sort(key=lambda r: -r["numerator"])  # stable: ties keep the members' order
    return out


def _sum(added: Shares, metric: str, dimension: str) -> list[dict[str, Any]]:
    """The rows of one metric and dimension of :func:`_added` (a copy; none: empty)."""
    return [dict(r) for r in added.get((metric, dimension), [])]


def _lost_per_leaver(wh: Source, snapshot: date, months: int, last: date) -> pd.DataFrame:
    """Leavers of the ``months`` months up to ``last``: branch, churn date and the future
    revenue lost (CLV future value of the latest CLV before leaving, else the last bill ×
    ``FUTURE_MONTHS``)."""
    leavers = leavers_table(wh, snapshot, months, last)
    if wh.has_table("clv"):
        clv = wh.table("clv")
        clv = clv.select(v_sid=clv.subscriber_id, v_date=clv.snapshot_date, v=clv.future_value)
        joined = leavers.left_join(
            clv, (leavers.subscriber_id == clv.v_sid) & (clv.v_date < leavers.churn_date)
        )
        per = joined.group_by(["subscriber_id", "branch", "churn_date", "last_bill"]).aggregate(
            clv=joined.v.argmax(joined.v_date)
        )
    else:
        per = leavers.select(
            "subscriber_id", "branch", "churn_date", "last_bill", clv=ibis.null("float64")
        )
    frame: pd.DataFrame = per.to_pandas()
    fallback = frame["last_bill"].astype(float) * FUTURE_MONTHS
    frame["lost"] = frame["clv"].astype(float).fillna(fallback)
    frame["churn_date"] = pd.to_datetime(frame["churn_date"]).dt.date
    return frame


def _segments(rates: pd.DataFrame, month: date) -> list[dict[str, Any]]:
    previous = rates["period"].min()
    grouped = rates.groupby(["dimension", "member", "period"])[["numerator", "denominator"]]
    sums = {cast(tuple[str, str, Any], k): v for k, v in grouped.sum().to_dict("index").items()}
    members: dict[str, set[str]] = {}
    for dimension, member, _ in sums:
        members.setdefault(dimension, set()).add(member)
    out = []
    for dimension in SEGMENT_DIMENSIONS:
        for member in sorted(members.get(dimension, ())):
            now = sums.get((dimension, member, month))
            then = sums.get((dimension, member, previous))
            rate = float(now["numerator"] / now["denominator"]) if now is not None else None
            before = float(then["numerator"] / then["denominator"]) if then is not None else None
            out.append(
                {
                    "dimension": dimension,
                    "member": str(member),
                    "rate": rate,
                    "previous_rate": before,
                    "change_points": None if rate is None or before is None else rate - before,
                    "base": float(now["denominator"]) if now is not None else 0.0,
                    "previous_base": float(then["denominator"]) if then is not None else 0.0,
                }
            )
    return out


def churn_document(
    figures: ChurnFigures,
    branches: list[str] | None,
    targets: ReportTargets,
    min_base: int = MIN_BASE,
) -> dict[str, Any]:
    """The report over ``branches`` (None: the whole operator) from the month's figures."""
    conf, month, snapshot = targets, figures.month, figures.snapshot
    frame, rates, lost = figures.analysis, figures.rates, figures.lost_future
    if branches is not None:
        frame = frame[frame["branch"].isin(branches)]
        rates = rates[rates["branch"].isin(branches)]
    added = _added(frame)
    reasons = _sum(added, "churn_reason", "reason")
    leavers = max((r["denominator"] for r in reasons), default=0.0)
    groups = []
    for (kind, control), (key, zh, en) in TREATMENTS.items():
        members = [r for r in reasons if REASON_KINDS.get(r["member"]) == (kind, control)]
        count = sum(r["numerator"] for r in members)
        groups.append(
            {
                "kind": kind,
                "control": control,
                "leavers": count,
                "share": count / leavers if leavers else None,
                "treatment": key,
                "treatment_text": {"zh-CN": zh, "en": en},
                "reasons": members,
            }
        )
    cost_rows = {r["member"]: r["numerator"] for r in _sum(added, "churn_cost", "cost")}
    direct = cost_rows.get("direct", 0.0)
    costs = {
        "direct": direct,
        "indirect": direct * conf.indirect_cost_factor,
        "indirect_cost_factor": conf.indirect_cost_factor,
        "lost_future": float(lost.sum() if branches is None else lost.reindex(branches).sum()),
        "lost_future_bill": cost_rows.get("lost_future", 0.0),
        "opportunity": cost_rows.get("retention_effort", 0.0),
    }
    costs["total"] = costs["direct"] + costs["indirect"] + costs["lost_future"]
    costs["total"] += costs["opportunity"]
    costs["per_leaver"] = costs["total"] / leavers if leavers else None
    totals = rates[rates["dimension"] == "total"].groupby("period")[["numerator", "denominator"]]
    by_month = totals.sum()
    rate = {
        pd.Timestamp(str(p)).date().isoformat(): (
            float(r["numerator"] / r["denominator"]) if r["denominator"] else None
        )
        for p, r in by_month.iterrows()
    }
    doc: dict[str, Any] = {
        "month": month.strftime("%Y-%m"),
        "window_months": MONTHS,
        # the window's months without delivered monthly data: its figures cover only the rest
        "window": [m.strftime("%Y-%m") for m in figures.window],
        "missing_months": [m.strftime("%Y-%m") for m in figures.missing_months],
        "snapshot_date": snapshot.isoformat(),
        "branches": branches,
        "leavers": leavers,
        "churn_rate": rate.get(month.isoformat()),
        "previous_churn_rate": next((v for k, v in rate.items() if k != month.isoformat()), None),
        "month_leavers": float(by_month["numerator"].get(month, 0.0))
        if not by_month.empty
        else 0.0,
        "reasons": reasons,
        "reason_kinds": _sum(added, "churn_reason_kind", "reason_kind"),
        "reason_controls": _sum(added, "churn_reason_control", "reason_control"),
        "reason_groups": groups,
        "destinations": _sum(added, "churn_destination", "destination"),
        "tenure_leavers": _sum(added, "churn_tenure", "leavers"),
        "tenure_base": _sum(added, "churn_tenure", "base"),
        "touchpoints": _sum(added, "churn_touchpoint", "touchpoint"),
        "costs": costs,
        "segments": _segments(rates, month),
    }
    doc["findings"] = findings(doc, min_base)
    return doc


@dataclass(frozen=True)
class ChurnFigures:
    """The month's dashboard figures per branch, computed once for every document."""

    month: date
    snapshot: date
    analysis: pd.DataFrame
    rates: pd.DataFrame
    lost_future: pd.Series
    #: the report window's months (first days, oldest first) and those without delivered data
    window: tuple[date, ...] = ()
    missing_months: tuple[date, ...] = ()


def churn_figures(wh: Source, snapshot: date, month: date) -> ChurnFigures:
    """``kpis.churn_analysis`` with ``month`` as last report month, the churn rates of the
    month and the one before, and the lost future revenue per branch."""
    return many_churn_figures(wh, snapshot, [month])[month.replace(day=1)]


def many_churn_figures(wh: Source, snapshot: date, months: list[date]) -> dict[date, ChurnFigures]:
    """:func:`churn_figures` of several months; the rates and the lost revenue of all of them
    come from one pass each (the same figures as one month at a time)."""
    firsts = sorted({m.replace(day=1) for m in months})
    last = firsts[-1]
    span = (last.year - firsts[0].year) * 12 + last.month - firsts[0].month
    rates = churn_rates(wh, snapshot, span + 2, last=last, keep_early=True)
    lost = _lost_per_leaver(wh, snapshot, MONTHS + span, last)
    delivered = delivered_months(wh, snapshot)
    analyses = churn_analyses(wh, snapshot, firsts, MONTHS)
    out = {}
    for month in firsts:
        window = report_months(snapshot, MONTHS, month)
        pair = rates[rates["period"].isin([add_months(month, -1), month])]
        inside = lost[
            (lost["churn_date"] >= window[0]) & (lost["churn_date"] < add_months(month, 1))
        ]
        out[month] = ChurnFigures(
            month=month,
            snapshot=snapshot,
            analysis=analyses[month],
            rates=drop_early(pair),
            lost_future=inside.groupby("branch")["lost"].sum(),
            window=tuple(window),
            missing_months=tuple(m for m in window if m not in delivered),
        )
    return out


def churn_report(
    wh: Source,
    snapshot: date,
    month: date,
    *,
    branches: list[str] | None = None,
    targets: ReportTargets | None = None,
    min_base: int = MIN_BASE,
) -> dict[str, Any]:
    """The report of ``month`` over ``branches`` (None: the whole operator)."""
    figures = churn_figures(wh, snapshot, month)
    return churn_document(figures, branches, targets or load_targets(), min_base)


def churn_documents(
    wh: Source,
    snapshot: date,
    month: date,
    targets: ReportTargets | None = None,
    scopes: dict[str, list[str]] | None = None,
    figures: ChurnFigures | None = None,
) -> dict[str | None, dict[str, Any]]:
    """The whole operator's document (key None) and one per scope (scope → its branch codes;
    every branch of the data not named is a scope of its own); ``figures`` when computed
    already (:func:`many_churn_figures`)."""
    figures = figures or churn_figures(wh, snapshot, month)
    goals = targets or load_targets()
    present = {str(b) for b in figures.analysis["branch"].dropna()}
    present |= {str(b) for b in figures.rates["branch"].dropna()}
    scopes = {**{branch: [branch] for branch in present}, **(scopes or {})}
    docs: dict[str | None, dict[str, Any]] = {None: churn_document(figures, None, goals)}
    for scope, codes in sorted(scopes.items()):
        if present & set(codes):
            docs[scope] = churn_document(figures, sorted(codes), goals)
    return docs
