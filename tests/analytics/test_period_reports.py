"""Weekly and monthly reports: periods, targets file, and every figure against a count made
here from the fixture's rows (tests/period_report_fixtures.py); value tiers from the stored
segments, else computed from the bills as the pipeline would have stored them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from period_report_fixtures import (
    BILLS,
    CONTACTS,
    DECISIONS,
    MORE_BILLS,
    OUTCOMES,
    SEGMENTS,
    SNAPSHOT,
    SUBSCRIBERS,
    SURVEYS,
    build_report_warehouse,
)
from weiwan.analytics import kpis
from weiwan.analytics.features import bill_bases, compute_features
from weiwan.analytics.period_report_doc import _findings, period_documents, period_report
from weiwan.analytics.period_reports import (
    Period,
    ReportTargets,
    closed_periods,
    computed_tiers,
    load_targets,
    parse_period,
)
from weiwan.analytics.segments import ValueTierConfig, compute_segments, load_segment_config
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.errors import ConfigError
from weiwan.core.months import add_months, last_complete_month


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    with build_report_warehouse(tmp_path_factory.mktemp("wh") / "wh.duckdb") as warehouse:
        yield warehouse


@pytest.fixture(scope="module")
def unsegmented(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """History loaded before the pipeline ever ran: no stored segments, bills since June."""
    path = tmp_path_factory.mktemp("unsegmented") / "wh.duckdb"
    with build_report_warehouse(path, segments=False, bills=True) as warehouse:
        yield warehouse


def _months(start: date, end: date) -> int:
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - (1 if end.day < start.day else 0)


def expected(period: Period, branches: set[str] | None = None) -> dict[str, float]:
    """The period's measures counted straight from the fixture's rows."""
    subs = [s for s in SUBSCRIBERS if branches is None or s[1] in branches]
    ids = {s[0] for s in subs}
    base = [s for s in subs if s[4] < period.start and (s[5] is None or s[5] >= period.start)]
    churned = [s for s in base if s[5] is not None and s[5] < period.end]
    surveys = [v for v in SURVEYS if v[0] in ids and period.start <= v[1].date() < period.end]
    accepted = sorted(
        (c for c in CONTACTS if c[0] in ids and c[3] == "sent" and c[4]), key=lambda c: c[1]
    )
    saved: dict[str, float] = {}
    for sid, at, _channel, _status, _ok in accepted:
        if period.start <= at.date() < period.end and sid not in saved:
            acted = [d for d in DECISIONS if d[1] == sid and d[0] <= at.date()]
            saved[sid] = max(acted)[4] if acted else 0.0
    cost = sum(d[3] for d in DECISIONS if d[1] in ids and period.start <= d[0] < period.end)
    closed = [o for o in OUTCOMES if o[1] in ids and period.start <= o[0] < period.end]
    return {
        "at_start": len(base),
        "churned": len(churned),
        "tenure_sum": sum(_months(s[4], period.start) for s in base),
        "surveys": len(surveys),
        "satisfied": sum(1 for v in surveys if v[3] >= kpis.SATISFIED_FROM),
        "saves": len(saved),
        "value_saved": sum(saved.values()),
        "cost": cost,
        "treated": sum(1 for o in closed if o[2]),
        "treated_churned": sum(1 for o in closed if o[2] and o[3]),
        "holdout": sum(1 for o in closed if not o[2]),
        "holdout_churned": sum(1 for o in closed if not o[2] and o[3]),
    }


def test_periods_parse_and_close() -> None:
    week = parse_period("week", "2026-W41")
    assert (week.start, week.end) == (date(2026, 10, 5), date(2026, 10, 12))
    assert week.last_year().key == "2025-W41"
    month = parse_period("month", "2026-10")
    assert month.last_year().key == "2025-10" and month.last_day == date(2026, 10, 31)
    keys = [p.key for p in closed_periods(date(2026, 11, 1), weeks=2, months=2)]
    assert keys == ["2026-W44", "2026-W43", "2026-10", "2026-09"]
    # a Saturday: that week and that month are still open
    keys = [p.key for p in closed_periods(date(2026, 10, 31 - 1), weeks=1, months=1)]
    assert keys == ["2026-W43", "2026-09"]
    for kind, key in (("week", "2026-41"), ("month", "2026-13"), ("day", "2026-10")):
        with pytest.raises(ValueError, match=kind if kind != "day" else "kind"):
            parse_period(kind, key)


@pytest.mark.parametrize(
    ("kind", "key", "branches"),
    [
        ("month", "2026-10", None),
        ("month", "2026-10", {"NB"}),
        ("month", "2026-09", {"HZ", "HZ-CA"}),
        ("week", "2026-W41", None),
        ("week", "2025-W41", None),
    ],
)
def test_figures_equal_counts_from_the_rows(
    wh: Warehouse, kind: str, key: str, branches: set[str] | None
) -> None:
    period = parse_period(kind, key)
    doc = period_report(wh, SNAPSHOT, period, branches=sorted(branches) if branches else None)
    want, last = expected(period, branches), expected(period.last_year(), branches)
    total = doc["total"]
    for measure, value in want.items():
        assert total[measure] == pytest.approx(value), measure
    assert total["churn_rate"] == pytest.approx(want["churned"] / want["at_start"])
    first_churn = min(s[5] for s in SUBSCRIBERS if s[5] is not None)
    if period.last_year().end <= first_churn:  # no churn history then: unknown, not zero
        assert total["churn_rate_last_year"] is None and total["churn_yoy_change"] is None
    elif last["at_start"]:
        assert total["churn_rate_last_year"] == pytest.approx(last["churned"] / last["at_start"])
    if last["at_start"]:
        assert total["avg_tenure_months_last_year"] == pytest.approx(
            last["tenure_sum"] / last["at_start"]
        )
    if want["cost"]:
        assert total["roi"] == pytest.approx((want["value_saved"] - want["cost"]) / want["cost"])
    if want["treated"] and want["holdout"]:
        treated = want["treated_churned"] / want["treated"]
        held = want["holdout_churned"] / want["holdout"]
        assert total["incremental_saves"] == pytest.approx((held - treated) * want["treated"])
    else:
        assert total["incremental_saves"] is None
    json.dumps(doc, allow_nan=False)  # one plain, JSON-serialisable structure


def test_october_by_value_tier_channel_and_targets(wh: Warehouse) -> None:
    doc = period_report(wh, SNAPSHOT, parse_period("month", "2026-10"))
    tiers = {r["member"]: r for r in doc["breakdowns"]["value_tier"]}
    # the segments of 2026-09-30 (the latest on or before 1 October), C has none: unknown
    start_tiers = SEGMENTS[date(2026, 9, 30)]
    assert tiers["unknown"]["at_start"] == 1  # C
    assert tiers["gold"]["churned"] == 1 and start_tiers["D"] == "gold"
    assert tiers["mass"]["saves"] == 1 and tiers["gold"]["saves"] == 1  # E and A
    channels = {r["member"]: r for r in doc["breakdowns"]["channel"]}
    # saves by the channel of the first accepted contact, cost by the decided channel
    assert channels["outbound_call"]["saves"] == 1 and channels["sms"]["saves"] == 1
    assert channels["outbound_call"]["cost"] == 30.0 and channels["sms"]["cost"] == 5.0
    assert channels["store"]["at_start"] == 4 and channels["store"]["churned"] == 1
    goal = doc["targets"]["churn_yoy_change"]
    # 1 of 4 against 1 of 5 last October: +25 % against a target of -3 %
    assert goal["actual"] == pytest.approx(0.25) and goal["met"] is False
    assert doc["targets"]["satisfaction_rate"]["met"] is False  # 2 of 3 < 85 %
    assert any("25.00%" in line for line in doc["findings"]["zh-CN"])
    assert any("not met" in line for line in doc["findings"]["en"])
    # D left from the hold-out (1 of 2), nobody treated left: one save because of us
    assert doc["total"]["incremental_saves"] == pytest.approx(1.0)
    assert any("1.0 incremental saves" in line for line in doc["findings"]["en"])
    assert channels["unknown"]["holdout"] == 2  # no decision row names their channel


def test_monthly_churn_rate_equals_the_dashboard(wh: Warehouse) -> None:
    rates = kpis.churn_rates(wh, SNAPSHOT)
    oct_total = rates[(rates["dimension"] == "total") & (rates["period"] == date(2026, 10, 1))]
    doc = period_report(wh, SNAPSHOT, parse_period("month", "2026-10"))
    assert doc["total"]["churned"] == oct_total["numerator"].sum()
    assert doc["total"]["at_start"] == oct_total["denominator"].sum()


def test_documents_per_scope_add_up(wh: Warehouse) -> None:
    period = parse_period("month", "2026-10")
    docs = period_documents(wh, SNAPSHOT, period, scopes={"HZ": ["HZ", "HZ-CA"]})
    assert set(docs) == {None, "HZ", "HZ-CA", "NB"}
    whole = docs[None]["total"]
    assert whole["at_start"] == docs["HZ"]["total"]["at_start"] + docs["NB"]["total"]["at_start"]
    assert docs["HZ"]["branches"] == ["HZ", "HZ-CA"]


def test_targets_file_default_and_bad_entries(tmp_path: Path) -> None:
    assert load_targets() == ReportTargets()
    assert ReportTargets().churn_yoy_change == -0.03
    bad = tmp_path / "targets.yaml"
    bad.write_text("churn_yoy_change: -0.05\nsatisfaction_rate: lots\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"targets\.yaml: satisfaction_rate"):
        load_targets(bad)
    bad.write_text("tenure_gain: 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="tenure_gain"):
        load_targets(bad)
    bad.write_text("- 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping"):
        load_targets(bad)
    good = tmp_path / "good.yaml"
    good.write_text("satisfaction_rate: 0.9\n", encoding="utf-8")
    assert load_targets(good).satisfaction_rate == 0.9


def hand_tiers(start: date) -> dict[str, str]:
    """Value tiers at ``start`` counted from the fixture's bills: the subscribers at the start
    ranked on their mean bill of the 3 complete months before it (``bill_mean_3m``), the top 1 %
    diamond, next 4 % gold, 10 % silver, 35 % ordinary, the rest (and no bill) mass."""
    base = [s[0] for s in SUBSCRIBERS if s[4] < start and (s[5] is None or s[5] >= start)]
    last = last_complete_month(start - timedelta(days=1))
    months = {add_months(last, -i) for i in range(3)}
    means: dict[str, float] = {}
    for sid in base:
        amounts = [a for s, m, a in BILLS + MORE_BILLS if s == sid and m in months]
        if amounts:
            means[sid] = sum(amounts) / len(amounts)
    bounds = [(0.01, "diamond"), (0.05, "gold"), (0.15, "silver"), (0.50, "ordinary")]
    tiers = dict.fromkeys(base, "mass")
    for sid, mean in means.items():
        position = sum(1 for other in means.values() if other > mean) / len(base)
        fits = [tier for bound, tier in bounds if position < bound]
        tiers[sid] = fits[0] if fits else "mass"
    return tiers


def test_hand_tiers_of_the_fixture() -> None:
    # 1 Sep: June-August means A 200, B 90 (July, August), D 60, E 10; 4 subscribers, so
    # positions 0, 0.25, 0.5, 0.75
    assert hand_tiers(date(2026, 9, 1)) == {
        "A": "diamond",
        "B": "ordinary",
        "D": "mass",
        "E": "mass",
    }
    # 1 Oct: July-September means A 150, D 140, C 120 (joined in September), E 10; B has left
    assert hand_tiers(date(2026, 10, 1)) == {
        "A": "diamond",
        "D": "ordinary",
        "C": "mass",
        "E": "mass",
    }
    assert load_segment_config().value_tier.percentiles.model_dump() == {
        "diamond": 0.01, "gold": 0.04, "silver": 0.10, "ordinary": 0.35
    }  # fmt: skip


def _by_tier(doc: dict[str, Any]) -> dict[str, tuple[float, float]]:
    rows = doc["breakdowns"]["value_tier"]
    return {r["member"]: (r["at_start"], r["churned"]) for r in rows if r["at_start"]}


def _tier_counts(period: Period, tiers: dict[str, str]) -> dict[str, tuple[float, float]]:
    left = {s[0]: s[5] for s in SUBSCRIBERS}
    out: dict[str, tuple[float, float]] = {}
    for sid, tier in tiers.items():
        at_start, churned = out.get(tier, (0.0, 0.0))
        day = left[sid]
        gone = day is not None and day < period.end
        out[tier] = (at_start + 1, churned + (1 if gone else 0))
    return out


@pytest.mark.parametrize(
    ("kind", "key"),
    [("month", "2026-09"), ("month", "2026-10"), ("week", "2026-W36"), ("week", "2026-W41")],
)
def test_without_stored_segments_tiers_come_from_the_bills(
    unsegmented: Warehouse, kind: str, key: str
) -> None:
    period = parse_period(kind, key)
    doc = period_report(unsegmented, SNAPSHOT, period)
    tiers = hand_tiers(period.start)
    assert _by_tier(doc) == _tier_counts(period, tiers)
    assert "unknown" not in _by_tier(doc)
    if key == "2026-W41":  # D left on the week's first day: in the base, with its tier
        assert tiers["D"] == "ordinary" and _by_tier(doc)["ordinary"] == (1, 1)


def test_before_any_bill_tiers_stay_unknown(unsegmented: Warehouse) -> None:
    for kind, key in (("month", "2026-06"), ("week", "2025-W41")):
        period = parse_period(kind, key)
        want = expected(period)
        counts = (want["at_start"], want["churned"])
        assert _by_tier(period_report(unsegmented, SNAPSHOT, period)) == {"unknown": counts}
    # a day whose base has no bill on the basis (no October bill for arpu_1m): none computed
    november = [date(2026, 11, 1)]
    assert computed_tiers(unsegmented, november, ValueTierConfig(basis="arpu_1m")).empty
    assert not computed_tiers(unsegmented, november).empty


def test_computed_tiers_equal_the_pipeline_segments(unsegmented: Warehouse) -> None:
    """What the pipeline's features and segments steps store on the eve of the start."""
    starts = [date(2026, 9, 1), date(2026, 10, 1), date(2026, 10, 5)]
    frame = computed_tiers(unsegmented, starts)
    config = load_segment_config()
    for start in starts:
        eve = start - timedelta(days=1)
        features = compute_features(unsegmented, eve)
        stored = compute_segments(features, config).to_pandas()
        want = dict(zip(stored["subscriber_id"], stored["value_tier"], strict=True))
        rows = frame[[pd.Timestamp(d).date() == start for d in frame["c_day"]]]
        assert dict(zip(rows["c_sid"], rows["c_tier"], strict=True)) == want == hand_tiers(start)
        columns = ["subscriber_id", "snapshot_date", "arpu_1m", "bill_mean_3m"]
        full = features.select(*columns).to_pandas().sort_values("subscriber_id")
        bases = bill_bases(unsegmented, eve).to_pandas().sort_values("subscriber_id")
        pd.testing.assert_frame_equal(bases.reset_index(drop=True), full.reset_index(drop=True))


def test_stored_segments_take_precedence(tmp_path: Path) -> None:
    with build_report_warehouse(tmp_path / "wh.duckdb", bills=True) as wh:
        october = parse_period("month", "2026-10")
        # the segments of 2026-09-30, not the bills: A and D gold, E mass; C has no stored tier
        stored = SEGMENTS[date(2026, 9, 30)]
        tiers = {sid: stored.get(sid, "unknown") for sid in hand_tiers(october.start)}
        assert tiers != hand_tiers(october.start)
        doc = period_report(wh, SNAPSHOT, october)
        assert _by_tier(doc) == _tier_counts(october, tiers)
        # September starts before the first stored snapshot: computed from the bills
        september = parse_period("month", "2026-09")
        doc = period_report(wh, SNAPSHOT, september)
        assert _by_tier(doc) == _tier_counts(september, hand_tiers(september.start))


def test_unknown_figures_read_as_words_not_a_dash(wh: Warehouse) -> None:
    """A figure without a year-earlier period (or without a cost) reads 无数据 / n/a."""
    doc = period_report(wh, SNAPSHOT, parse_period("month", "2026-10"))
    doc["total"].update(churn_rate_last_year=None, churn_yoy_change=None, roi=None)
    findings = _findings(doc)
    first_zh, first_en = findings["zh-CN"][0], findings["en"][0]
    assert "去年同期 无数据" in first_zh and "同比变化 无数据" in first_zh
    assert "same period last year n/a" in first_en
    assert not any(
        " -，" in line or " - " in line or line.endswith(" -。") for line in findings["zh-CN"]
    )
    assert any("投入产出比 无数据" in line for line in findings["zh-CN"])
