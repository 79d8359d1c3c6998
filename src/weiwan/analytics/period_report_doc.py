"""The weekly / monthly report as one JSON-serialisable document, from the period's cubes.

A document is built for the whole operator (scope None) and for each scope (by default each
branch alone; the pipeline passes each branch with its sub-branches): the same sums over the
cube rows of the scope's branches, so a reader's scope picks documents, never recomputes.
Figures: see :mod:`weiwan.analytics.period_reports`; findings are sentences built from the
figures in Chinese and English.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, cast

import pandas as pd

from weiwan.analytics.kpis import Source
from weiwan.analytics.period_reports import (
    KEYS,
    MEASURES,
    Period,
    ReportTargets,
    first_churn,
    load_targets,
    period_cubes,
)

#: breakdowns of the document, in order
DIMENSIONS = KEYS
#: summed measures of one member (measure → value)
Measures = dict[str, float]


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _change(current: float | None, reference: float | None) -> float | None:
    if current is None or reference is None or reference == 0:
        return None
    return (current - reference) / abs(reference)


def figures(current: Mapping[str, Any], last_year: Mapping[str, Any]) -> dict[str, Any]:
    """Rates and totals of one set of summed measures, with last year's."""
    cur = {m: float(current.get(m, 0.0)) for m in MEASURES}
    old = {m: float(last_year.get(m, 0.0)) for m in MEASURES}
    churn, churn_ly = (
        _ratio(cur["churned"], cur["at_start"]),
        _ratio(old["churned"], old["at_start"]),
    )
    tenure = _ratio(cur["tenure_sum"], cur["at_start"])
    tenure_ly = _ratio(old["tenure_sum"], old["at_start"])
    treated_rate = _ratio(cur["treated_churned"], cur["treated"])
    holdout_rate = _ratio(cur["holdout_churned"], cur["holdout"])
    incremental = (
        None
        if treated_rate is None or holdout_rate is None
        else (holdout_rate - treated_rate) * cur["treated"]
    )
    return {
        **cur,
        "churn_rate": churn,
        "churn_rate_last_year": churn_ly,
        "churn_yoy_change": _change(churn, churn_ly),
        "satisfaction_rate": _ratio(cur["satisfied"], cur["surveys"]),
        "satisfaction_rate_last_year": _ratio(old["satisfied"], old["surveys"]),
        "avg_tenure_months": tenure,
        "avg_tenure_months_last_year": tenure_ly,
        "tenure_gain_months": None if tenure is None or tenure_ly is None else tenure - tenure_ly,
        "roi": _ratio(cur["value_saved"] - cur["cost"], cur["cost"]),
        "treated_churn_rate": treated_rate,
        "holdout_churn_rate": holdout_rate,
        "incremental_saves": incremental,
    }


def _history(row: dict[str, Any], known: bool) -> dict[str, Any]:
    if not known:
        row["churn_rate_last_year"] = row["churn_yoy_change"] = None
    return row


def _targets(total: dict[str, Any], targets: ReportTargets) -> dict[str, Any]:
    def met(value: float | None, goal: float, lower_is_better: bool) -> bool | None:
        if value is None:
            return None
        return value <= goal if lower_is_better else value >= goal

    return {
        "churn_yoy_change": {
            "target": targets.churn_yoy_change,
            "actual": total["churn_yoy_change"],
            "met": met(total["churn_yoy_change"], targets.churn_yoy_change, True),
        },
        "satisfaction_rate": {
            "target": targets.satisfaction_rate,
            "actual": total["satisfaction_rate"],
            "met": met(total["satisfaction_rate"], targets.satisfaction_rate, False),
        },
        "tenure_gain_months": {
            "target": targets.tenure_gain_months,
            "actual": total["tenure_gain_months"],
            "met": met(total["tenure_gain_months"], targets.tenure_gain_months, False),
        },
    }


def long_form(cube: pd.DataFrame) -> pd.DataFrame:
    """A cube's measures per branch, dimension (``total`` and each of :data:`DIMENSIONS`)
    and member: what documents add up over their branches."""
    parts = [cube.assign(dimension="total", member="all")]
    parts += [cube.assign(dimension=key, member=cube[key]) for key in DIMENSIONS]
    frame = pd.concat(parts, ignore_index=True)
    long: pd.DataFrame = frame.groupby(["branch", "dimension", "member"], as_index=False)[
        list(MEASURES)
    ].sum()
    return long


def _sums(long: pd.DataFrame, branches: list[str] | None) -> dict[str, dict[str, Measures]]:
    """Dimension → member → measures, added up over ``branches`` (None: all)."""
    return _scoped_sums(long, [branches])[0]


def _scoped_sums(
    long: pd.DataFrame, scopes: list[list[str] | None]
) -> list[dict[str, dict[str, Measures]]]:
    """:func:`_sums` of each of ``scopes`` (branch lists, None: all), in one grouping."""
    members = [
        (i, branch)
        for i, branches in enumerate(scopes)
        for branch in (long["branch"].unique() if branches is None else branches)
    ]
    scoped = pd.DataFrame(members, columns=["scope", "branch"]).astype({"branch": object})
    rows = long.merge(scoped, on="branch")
    grouped = rows.groupby(["scope", "dimension", "member"])[list(MEASURES)].sum()
    out: list[dict[str, dict[str, Measures]]] = [{} for _ in scopes]
    for key, row in grouped.to_dict("index").items():
        scope, dimension, member = cast(tuple[int, str, str], key)
        sums = out[scope].setdefault(str(dimension), {})
        sums[member] = {str(m): float(v) for m, v in row.items()}
    return out


def pct(value: float | None, missing: str = "-") -> str:
    """A share as ``12.34%`` (``missing`` when unknown)."""
    return missing if value is None else f"{value * 100:.2f}%"


def pct_zh(value: float | None) -> str:
    """:func:`pct` for the Chinese prose: 无数据 when unknown (not a bare dash)."""
    return pct(value, "无数据")


def pct_en(value: float | None) -> str:
    """:func:`pct` for the English prose: n/a when unknown."""
    return pct(value, "n/a")


def _findings(doc: dict[str, Any]) -> dict[str, list[str]]:
    total, goals = doc["total"], doc["targets"]
    zh: list[str] = []
    en: list[str] = []
    churn_goal = goals["churn_yoy_change"]
    zh.append(
        f"流失率 {pct_zh(total['churn_rate'])}（流失 {total['churned']:.0f} / 期初 "
        f"{total['at_start']:.0f}），去年同期 {pct_zh(total['churn_rate_last_year'])}，"
        f"同比变化 {pct_zh(total['churn_yoy_change'])}，目标 {pct_zh(churn_goal['target'])}："
        + {True: "达成", False: "未达成", None: "无法比较"}[churn_goal["met"]]
        + "。"
    )
    en.append(
        f"Churn rate {pct_en(total['churn_rate'])} ({total['churned']:.0f} of "
        f"{total['at_start']:.0f} at the start), same period last year "
        f"{pct_en(total['churn_rate_last_year'])}, change {pct_en(total['churn_yoy_change'])} "
        f"against a target of {pct_en(churn_goal['target'])}: "
        + {True: "met", False: "not met", None: "no comparison"}[churn_goal["met"]]
        + "."
    )
    sat = goals["satisfaction_rate"]
    zh.append(
        f"满意度 {pct_zh(total['satisfaction_rate'])}（{total['surveys']:.0f} 份问卷），"
        f"目标 {pct_zh(sat['target'])}。"
    )
    en.append(
        f"Satisfaction {pct_en(total['satisfaction_rate'])} ({total['surveys']:.0f} answers), "
        f"target {pct_en(sat['target'])}."
    )
    if total["tenure_gain_months"] is not None:
        zh.append(
            f"平均在网 {total['avg_tenure_months']:.1f} 个月，同比 "
            f"{total['tenure_gain_months']:+.1f} 个月（目标 "
            f"{goals['tenure_gain_months']['target']:+.1f}）。"
        )
        en.append(
            f"Average tenure {total['avg_tenure_months']:.1f} months, "
            f"{total['tenure_gain_months']:+.1f} on last year (target "
            f"{goals['tenure_gain_months']['target']:+.1f})."
        )
    roi = None if total["roi"] is None else f"{total['roi']:.2f}"
    zh.append(
        f"挽留成功 {total['saves']:.0f} 户，挽留成本 {total['cost']:.2f} 元，挽回价值 "
        f"{total['value_saved']:.2f} 元，投入产出比 {roi or '无数据'}。"
    )
    en.append(
        f"{total['saves']:.0f} customers saved, retention cost {total['cost']:.2f}, value "
        f"saved {total['value_saved']:.2f}, ROI {roi or 'n/a'}."
    )
    if total["incremental_saves"] is not None:
        zh.append(
            f"对照组：挽留客户流失率 {pct_zh(total['treated_churn_rate'])}"
            f"（{total['treated']:.0f} 户），"
            f"对照组流失率 {pct_zh(total['holdout_churn_rate'])}（{total['holdout']:.0f} 户），"
            f"净增挽留 {total['incremental_saves']:.1f} 户。"
        )
        en.append(
            f"Against the hold-out: treated churn {pct_en(total['treated_churn_rate'])} "
            f"({total['treated']:.0f} customers), hold-out churn "
            f"{pct_en(total['holdout_churn_rate'])} ({total['holdout']:.0f}): "
            f"{total['incremental_saves']:.1f} incremental saves."
        )
    for dimension in ("branch", "brand", "value_tier"):
        rows = [r for r in doc["breakdowns"][dimension] if r["churn_rate"] is not None]
        if len(rows) < 2:
            continue
        worst = max(rows, key=lambda r: (r["churn_rate"], r["member"]))
        member_zh, member_en = _TIERS.get(worst["member"], (worst["member"], worst["member"]))
        zh.append(
            f"按{_DIM_ZH[dimension]}，流失率最高的是 {member_zh}（{pct_zh(worst['churn_rate'])}）。"
        )
        en.append(
            f"By {dimension.replace('_', ' ')}, the highest churn rate is {member_en} "
            f"({pct_en(worst['churn_rate'])})."
        )
    return {"zh-CN": zh, "en": en}


_DIM_ZH = {"branch": "分公司", "brand": "品牌", "value_tier": "价值层级", "channel": "渠道"}
#: value tiers (segments.yaml) as the findings name them: (zh, en)
_TIERS = {
    "diamond": ("钻石", "diamond"),
    "gold": ("金卡", "gold"),
    "silver": ("银卡", "silver"),
    "ordinary": ("普通", "ordinary"),
    "mass": ("大众", "mass"),
    "unknown": ("未知", "unknown"),
}


def build_document(
    period: Period,
    snapshot: date,
    current: pd.DataFrame,
    last_year: pd.DataFrame,
    targets: ReportTargets,
    branches: list[str] | None = None,
    scope: str | None = None,
    history_from: date | None = None,
) -> dict[str, Any]:
    """The report of ``period`` over the rows of ``branches`` (None: every branch) of the
    period's and last year's cubes in :func:`long_form`, labelled ``scope``. Last year's
    churn is unknown (None), not zero, when that period ended on or before ``history_from``
    (the first churn delivered) or there is no churn at all."""
    now, then = _sums(current, branches), _sums(last_year, branches)
    return _document(period, snapshot, now, then, targets, branches, scope, history_from)


def _document(
    period: Period,
    snapshot: date,
    now: dict[str, dict[str, Measures]],
    then: dict[str, dict[str, Measures]],
    targets: ReportTargets,
    branches: list[str] | None,
    scope: str | None,
    history_from: date | None,
) -> dict[str, Any]:
    """:func:`build_document` from the sums (:func:`_sums`) of the period and last year."""
    previous = period.last_year()
    known = history_from is not None and previous.end > history_from
    empty: Measures = {}

    def total_of(sums: dict[str, dict[str, Measures]]) -> Measures:
        return sums.get("total", {}).get("all", empty)

    total = _history(figures(total_of(now), total_of(then)), known)
    breakdowns: dict[str, list[dict[str, Any]]] = {}
    for key in DIMENSIONS:
        cur, old = now.get(key, {}), then.get(key, {})
        members = sorted(set(cur) | set(old))
        breakdowns[key] = [
            _history(
                {"member": str(m), **figures(cur.get(m, empty), old.get(m, empty))},
                known,
            )
            for m in members
        ]
    doc: dict[str, Any] = {
        "kind": period.kind,
        "key": period.key,
        "start": period.start.isoformat(),
        "last_day": period.last_day.isoformat(),
        "last_year_key": previous.key,
        "snapshot_date": snapshot.isoformat(),
        "scope": scope,
        "branches": branches,
        "total": total,
        "targets": _targets(total, targets),
        "breakdowns": breakdowns,
    }
    doc["findings"] = _findings(doc)
    return doc


def period_documents(
    wh: Source,
    snapshot: date,
    period: Period,
    targets: ReportTargets | None = None,
    scopes: dict[str, list[str]] | None = None,
    cubes: dict[str, pd.DataFrame] | None = None,
) -> dict[str | None, dict[str, Any]]:
    """The whole operator's document (key None) and one per scope (scope → its branch codes;
    every branch of the data not named is a scope of its own). ``cubes`` (period key → cube)
    keeps the cubes computed for the same snapshot, e.g. over a publish run."""
    goals = targets or load_targets()
    cache = {} if cubes is None else cubes

    missing = [p for p in (period, period.last_year()) if p.key not in cache]
    if missing:
        cache.update(period_cubes(wh, snapshot, missing))
    current, last_year = long_form(cache[period.key]), long_form(cache[period.last_year().key])
    first = first_churn(wh, snapshot)
    present = set(current["branch"]) | set(last_year["branch"])
    scopes = {**{branch: [branch] for branch in present}, **(scopes or {})}
    labels: list[str | None] = [None]
    branch_lists: list[list[str] | None] = [None]
    for scope, codes in sorted(scopes.items()):
        if present & set(codes):
            labels.append(scope)
            branch_lists.append(sorted(codes))
    # every scope's sums in one grouping of each cube
    now, then = _scoped_sums(current, branch_lists), _scoped_sums(last_year, branch_lists)
    return {
        label: _document(period, snapshot, n, t, goals, branches, label, first)
        for label, branches, n, t in zip(labels, branch_lists, now, then, strict=True)
    }


def period_report(
    wh: Source,
    snapshot: date,
    period: Period,
    targets: ReportTargets | None = None,
    branches: list[str] | None = None,
) -> dict[str, Any]:
    """One document: the whole operator's, or that of ``branches`` added up."""
    goals = targets or load_targets()
    cubes = period_cubes(wh, snapshot, [period, period.last_year()])
    current, last_year = long_form(cubes[period.key]), long_form(cubes[period.last_year().key])
    scope = None if branches is None else ",".join(sorted(branches))
    first = first_churn(wh, snapshot)
    return build_document(period, snapshot, current, last_year, goals, branches, scope, first)
