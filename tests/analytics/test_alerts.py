"""Alert and care rules: each shipped rule at its threshold, evidence, periods, broken files,
and the alert context on a hand-built and on a simulated warehouse."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
import pytest

import factories as f
from weiwan.analytics.alerts import (
    ALERT_SCHEMA,
    DEFAULT_RULE_FILES,
    AlertRule,
    alert_context,
    evaluate_rules,
    fired_once,
    load_rules,
)
from weiwan.analytics.features import as_of_rows
from weiwan.analytics.ingest import ingest
from weiwan.analytics.warehouse import Warehouse
from weiwan.pipeline.run import run_pipeline
from weiwan.sim import simulate

SNAPSHOT = date(2026, 10, 31)
RULES = load_rules()

#: one ordinary, content subscriber: no shipped rule fires on it
BASE: dict[str, tuple[pa.DataType, Any]] = {
    "subscriber_id": (pa.string(), "base"),
    "status": (pa.string(), "active"),
    "is_prepaid": (pa.bool_(), True),
    "balance_1m": (pa.float64(), 50.0),
    "recharge_mean_3m": (pa.float64(), 50.0),
    "zero_usage_days_1m": (pa.int64(), 0),
    "voice_1m": (pa.float64(), 300.0),
    "data_mb_1m": (pa.float64(), 5000.0),
    "sms_1m": (pa.float64(), 20.0),
    "call_forwarding_active": (pa.bool_(), False),
    "call_forwarding_days_1m": (pa.int64(), 0),
    "tenure_months": (pa.int64(), 30),
    "arpu_1m": (pa.float64(), 80.0),
    "plan_monthly_fee": (pa.float64(), 58.0),
    "competitor_calls_1m": (pa.int64(), 0),
    "competitor_calls_3m": (pa.int64(), 0),
    "arrears_1m": (pa.float64(), 0.0),
    "days_since_suspension": (pa.int64(), None),
    "bill_mean_3m": (pa.float64(), 80.0),
    "bill_ratio_3m": (pa.float64(), 1.0),
    "days_to_contract_end": (pa.int64(), 200),
    "voice_trend_3m": (pa.float64(), 0.0),
    "data_trend_3m": (pa.float64(), 0.0),
    "voice_mean_3m": (pa.float64(), 300.0),
    "data_mean_3m": (pa.float64(), 5000.0),
    "complaints_90d": (pa.int64(), 0),
    "complaints_high_90d": (pa.int64(), 0),
    "complaints_unresolved": (pa.int64(), 0),
    "churn_probability": (pa.float64(), 0.02),
    "risk_band": (pa.string(), "low"),
    "previous_risk_band": (pa.string(), "low"),
    "calendar_months_since_join": (pa.int64(), 30),
    "days_since_join": (pa.int64(), 915),
    "join_channel": (pa.string(), "store"),
    "days_to_birthday": (pa.int64(), 100),
    "value_tier": (pa.string(), "ordinary"),
    "tenure_anniversary": (pa.bool_(), False),
    "store_survey_score_30d": (pa.int64(), 9),
}

#: (rule, patch that makes it fire, patch just across its threshold)
CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("zero_usage", {"zero_usage_days_1m": 28}, {"zero_usage_days_1m": 27}),
    (
        "zero_usage",
        {"voice_1m": 0.0, "data_mb_1m": 0.0, "sms_1m": 0.0},
        {"voice_1m": 0.0, "data_mb_1m": 0.0, "sms_1m": 1.0},
    ),
    ("call_forwarding", {"call_forwarding_days_1m": 7}, {"call_forwarding_days_1m": 6}),
    ("call_forwarding", {"call_forwarding_active": True}, {"call_forwarding_active": None}),
    ("pre_disconnect", {"status": "pre_disconnect"}, {"status": "suspended"}),
    ("competitor_service_call", {"competitor_calls_1m": 1}, {"competitor_calls_3m": 3}),
    ("suspended_arrears", {"status": "suspended_arrears"}, {"status": "suspended"}),
    ("suspended_keep_number", {"status": "suspended_keep_number"}, {"status": "suspended"}),
    ("suspended", {"status": "suspended"}, {"status": "suspended_arrears"}),
    ("low_balance", {"balance_1m": 4.99}, {"balance_1m": 5.0}),
    ("low_balance", {"balance_1m": 0.0}, {"balance_1m": 0.0, "is_prepaid": False}),
    (
        "high_bill",
        {"arpu_1m": 120.0, "bill_ratio_3m": 1.5},
        {"arpu_1m": 120.0, "bill_ratio_3m": 1.49},
    ),
    (
        "high_bill",
        {"arpu_1m": 50.01, "bill_ratio_3m": 2.0},
        {"arpu_1m": 50.0, "bill_ratio_3m": 2.0},
    ),
    ("contract_expiring", {"days_to_contract_end": 60}, {"days_to_contract_end": 61}),
    ("contract_expiring", {"days_to_contract_end": 0}, {"days_to_contract_end": -1}),
    (
        "usage_collapse",
        {"voice_trend_3m": -0.5, "data_trend_3m": -0.5},
        {"voice_trend_3m": -0.5, "data_trend_3m": -0.49},
    ),
    (
        "usage_collapse",
        {"voice_trend_3m": -0.9, "data_trend_3m": -1.0},
        {"voice_trend_3m": -0.9, "data_trend_3m": None},
    ),
    ("complaint_spike", {"complaints_90d": 2}, {"complaints_90d": 1}),
    ("complaint_spike", {"complaints_high_90d": 1, "complaints_90d": 1}, {"complaints_90d": 1}),
    ("risk_band_up", {"risk_band": "high"}, {"risk_band": "medium"}),
    (
        "risk_band_up",
        {"risk_band": "high", "previous_risk_band": None},
        {"risk_band": "high", "previous_risk_band": "high"},
    ),
    (
        "new_subscriber_welcome",
        {"calendar_months_since_join": 0},
        {"calendar_months_since_join": 1},
    ),
    (
        "first_bill_explanation",
        {"calendar_months_since_join": 1},
        {"calendar_months_since_join": 2},
    ),
    ("birthday_care", {"days_to_birthday": 7}, {"days_to_birthday": 8}),
    ("birthday_care", {"days_to_birthday": 0}, {"days_to_birthday": None}),
    ("vip_routine_care", {"value_tier": "gold"}, {"value_tier": "silver"}),
    ("vip_routine_care", {"value_tier": "diamond"}, {"value_tier": None}),
    ("tenure_anniversary_reward", {"tenure_anniversary": True}, {"tenure_anniversary": False}),
    ("store_visit_callback", {"store_survey_score_30d": 6}, {"store_survey_score_30d": 7}),
    ("store_visit_callback", {"store_survey_score_30d": 0}, {"store_survey_score_30d": None}),
]


def context_of(*patches: dict[str, Any]) -> ir.Table:
    """A context table with one row per patch of :data:`BASE`."""
    rows = [{k: v for k, (_, v) in BASE.items()} | patch for patch in patches]
    schema = pa.schema([(k, t) for k, (t, _) in BASE.items()])
    return ibis.memtable(pa.Table.from_pylist(rows, schema=schema))


def fired(table: ir.Table) -> list[tuple[str, str]]:
    rows = table.select("subscriber_id", "rule_id").to_pyarrow().to_pylist()
    return sorted((r["subscriber_id"], r["rule_id"]) for r in rows)


def test_shipped_rules_load_and_each_is_tested() -> None:
    assert RULES.errors == []
    assert {r.id for r in RULES.rules} == {case[0] for case in CASES}
    assert {r.kind for r in RULES.rules} == {"alert", "care"}
    assert all(r.name_zh and r.name_en and r.evidence and r.action_hint for r in RULES.rules)


def test_docs_list_every_shipped_rule() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "alerts.md").read_text("utf-8")
    for rule in RULES.rules:
        assert f"| {rule.id} | {rule.name_zh} | {rule.name_en} | {rule.period} |" in docs


def test_no_shipped_rule_fires_on_an_ordinary_subscriber() -> None:
    result = evaluate_rules(context_of({}), RULES, SNAPSHOT)
    assert result.errors == [] and fired(result.table) == []


@pytest.mark.parametrize(("rule_id", "hit", "miss"), CASES)
def test_shipped_rule_fires_at_its_threshold(
    rule_id: str, hit: dict[str, Any], miss: dict[str, Any]
) -> None:
    context = context_of({"subscriber_id": "hit"} | hit, {"subscriber_id": "miss"} | miss)
    result = evaluate_rules(context, [RULES.get(rule_id)], SNAPSHOT)
    assert result.errors == []
    assert fired(result.table) == [("hit", rule_id)]


def test_output_schema_evidence_and_period_keys() -> None:
    context = context_of(
        {"subscriber_id": "a", "arpu_1m": 120.5, "bill_mean_3m": 70.0, "bill_ratio_3m": 1.75},
        {"subscriber_id": "b", "status": "pre_disconnect", "risk_band": "high"},
        {"subscriber_id": "c", "risk_band": "high", "previous_risk_band": None},
    )
    result = evaluate_rules(context, RULES, SNAPSHOT)
    assert result.table.schema() == ibis.schema(ALERT_SCHEMA)
    rows = {(r["subscriber_id"], r["rule_id"]): r for r in result.table.to_pyarrow().to_pylist()}
    assert sorted(rows) == [
        ("a", "high_bill"),
        ("b", "pre_disconnect"),
        ("b", "risk_band_up"),
        ("c", "risk_band_up"),
    ]
    bill = rows[("a", "high_bill")]
    assert json.loads(bill["evidence"]) == {
        "arpu_1m": 120.5,
        "bill_mean_3m": 70.0,
        "bill_ratio_3m": 1.75,
    }
    assert (bill["kind"], bill["severity"], bill["period_key"]) == ("alert", "medium", "2026-10")
    assert bill["snapshot_date"] == SNAPSHOT and bill["action_hint"] == "sms_care"
    gone = rows[("b", "pre_disconnect")]
    assert gone["period_key"] == "2026-10-31" and gone["severity"] == "critical"
    assert json.loads(gone["evidence"]) == {
        "status": "pre_disconnect",
        "tenure_months": 30,
        "arpu_1m": 80.0,
    }
    assert json.loads(rows[("c", "risk_band_up")]["evidence"]) == {
        "churn_probability": 0.02,
        "risk_band": "high",
        "previous_risk_band": None,
    }


def _rule(rule_id: str, period: str, **extra: Any) -> AlertRule:
    return AlertRule.model_validate(
        {
            "id": rule_id,
            "name_zh": rule_id,
            "name_en": rule_id,
            "kind": "alert",
            "period": period,
            "severity": "low",
            "condition": {"field": "balance_1m", "op": "<", "value": 5},
        }
        | extra
    )


def test_rule_without_evidence_records_an_empty_object_and_disabled_rules_do_not_run() -> None:
    rules = [_rule("quiet", "daily"), _rule("off", "daily", enabled=False)]
    result = evaluate_rules(context_of({"balance_1m": 1.0}), rules, SNAPSHOT)
    table = result.table.to_pyarrow().to_pylist()
    assert [(r["rule_id"], r["evidence"], r["action_hint"]) for r in table] == [
        ("quiet", "{}", None)
    ]


def test_no_rules_give_an_empty_table_with_the_schema() -> None:
    result = evaluate_rules(context_of({}), [], SNAPSHOT)
    assert result.table.schema() == ibis.schema(ALERT_SCHEMA)
    assert result.table.count().execute() == 0


def test_fired_once_keeps_monthly_rules_to_once_a_month() -> None:
    rules = [_rule("monthly_low", "monthly"), _rule("daily_low", "daily")]
    context = context_of({"subscriber_id": "s", "balance_1m": 1.0})
    days = [date(2026, 10, 5), date(2026, 10, 6), date(2026, 11, 2)]
    first, second, next_month = (evaluate_rules(context, rules, d).table for d in days)
    assert fired(fired_once(first, None)) == [("s", "daily_low"), ("s", "monthly_low")]
    stored = first.to_pyarrow()  # what the pipeline stored for 5 October
    later = fired_once(second, ibis.memtable(stored))
    assert fired(later) == [("s", "daily_low")]  # the monthly one already fired this month
    assert later.period_key.to_pyarrow().to_pylist() == ["2026-10-06"]
    assert fired(fired_once(next_month, ibis.memtable(stored))) == fired(next_month)
    # re-running 5 October against everything stored (incl. its own rows) gives the same rows
    assert fired(fired_once(first, ibis.memtable(stored))) == fired(first)


def test_a_broken_rule_file_names_file_rule_and_field_and_the_rest_still_run(
    tmp_path: Path,
) -> None:
    good = {
        "name_zh": "测试",
        "name_en": "Test",
        "kind": "alert",
        "period": "daily",
        "severity": "low",
    }
    entries = [
        good
        | {"id": "bad_op", "condition": {"all": [{"field": "balance_1m", "op": "=<", "value": 5}]}},
        good | {"id": "typo", "condition": {"field": "balanse_1m", "op": "<", "value": 5}},
        {k: v for k, v in good.items() if k != "name_en"}
        | {"id": "no_english", "condition": {"tag": "is_prepaid"}},
        good | {"id": "low_balance", "condition": {"tag": "is_prepaid"}},
        good | {"id": "bad_evidence", "condition": {"tag": "is_prepaid"}, "evidence": ["nope"]},
        good | {"condition": {"tag": "is_prepaid"}, "period": "weekly"},
        good | {"id": "extra_prepaid", "condition": {"tag": "is_prepaid"}},
    ]
    custom = tmp_path / "custom.yaml"
    custom.write_text(json.dumps({"rules": entries}, ensure_ascii=False), encoding="utf-8")
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [\n", encoding="utf-8")
    rules = load_rules([*DEFAULT_RULE_FILES, custom, broken])
    problems = [str(e) for e in rules.errors]
    at = str(custom)
    assert problems[:4] == [
        f"{at}: rule bad_op: condition.all[0].op: unknown operator '=<' (use one of =, !=, >, "
        ">=, <, <=, between, in, not_in, is_null, not_null)",
        f"{at}: rule no_english: name_en: Field required",
        f"{at}: rule low_balance: id: duplicate id, already defined in alerts.yaml",
        f"{at}: rule #6: id: Field required; period: Input should be 'daily' or 'monthly'",
    ]
    assert problems[4].startswith(f"{broken}: cannot read rule file")
    assert len(problems) == 5
    assert {"typo", "bad_evidence", "extra_prepaid", "low_balance"} <= {r.id for r in rules.rules}
    assert rules.files["low_balance"] == "alerts.yaml"  # the first definition wins

    context = context_of({"subscriber_id": "p", "balance_1m": 1.0})
    result = evaluate_rules(context, rules, SNAPSHOT)
    assert [str(e) for e in result.errors] == [
        f"{at}: rule typo: condition.field: unknown field 'balanse_1m' (did you mean "
        "'balance_1m'?)",
        f"{at}: rule bad_evidence: evidence[0]: unknown column 'nope'",
    ]
    assert fired(result.table) == [("p", "extra_prepaid"), ("p", "low_balance")]


def test_yaml_duplicates_across_shipped_files_name_both(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    text = DEFAULT_RULE_FILES[1].read_text("utf-8")
    a.write_text(text, encoding="utf-8")
    b.write_text(text, encoding="utf-8")
    rules = load_rules([a, b])
    assert len(rules.rules) == len(load_rules([a]).rules)
    assert str(rules.errors[0]) == (
        f"{b}: rule new_subscriber_welcome: id: duplicate id, already defined in {a}"
    )


# --- the alert context on a hand-built warehouse ------------------------------------------

PEOPLE = {  # subscriber -> (birth_date, join_date, contract_end_date)
    "U000000": ("2000-02-29", "2024-02-29", "2026-12-31"),
    "U000001": ("1990-10-31", "2025-10-31", ""),
    "U000002": ("1990-11-01", "2025-10-15", ""),
    "U000003": ("1990-10-30", "2025-11-01", ""),
    "U000004": ("", "2026-10-01", ""),
    "U000005": ("1985-03-04", "2026-09-30", ""),
}
SURVEYS = [  # (subscriber, time, touchpoint, score)
    ("U000000", "2026-10-02 00:00:00", "store", 5),
    ("U000000", "2026-10-31 23:00:00", "store", 7),
    ("U000000", "2026-10-15 09:00:00", "hotline", 0),
    ("U000000", "2026-10-01 23:59:59", "store", 1),  # 31 days before the end of 31 October
    ("U000001", "2026-10-20 10:00:00", "store", 9),
]


def _store_profile(wh: Warehouse, snapshot: date, risk: dict[str, str] | None = None) -> None:
    ids = sorted(PEOPLE)
    columns: dict[str, Any] = {
        "subscriber_id": ids,
        "snapshot_date": [snapshot] * len(ids),
        "arpu_1m": [120.0, 0.0, 50.0, None, 10.0, 30.0],
        "bill_mean_3m": [60.0, 0.0, 100.0, 10.0, None, 30.0],
    }
    if risk is not None:
        columns["risk_band"] = [risk.get(i) for i in ids]
    wh.replace_snapshot("profile", ibis.memtable(pd.DataFrame(columns)), snapshot)


@pytest.fixture
def small(tmp_path: Path, warehouse: Warehouse) -> Warehouse:
    subscribers = []
    for i, (sid, (born, joined, contract_end)) in enumerate(sorted(PEOPLE.items())):
        row = f.subscriber(i) | {"birth_date": born, "join_date": joined, "status_date": joined}
        subscribers.append(row | {"contract_end_date": contract_end, "subscriber_id": sid})
    f.write_csv(tmp_path / "d" / "subscribers.csv", f.SUBSCRIBER_HEADER, subscribers)
    surveys = [
        {
            "survey_id": f"S{n}",
            "subscriber_id": s,
            "survey_time": t,
            "touchpoint": p,
            "score": str(v),
        }
        for n, (s, t, p, v) in enumerate(SURVEYS)
    ]
    header = ["survey_id", "subscriber_id", "survey_time", "touchpoint", "score"]
    f.write_csv(tmp_path / "d" / "surveys.csv", header, surveys)
    ingest(tmp_path / "d", snapshot=SNAPSHOT, warehouse=warehouse)
    return warehouse


def _context(wh: Warehouse, snapshot: date) -> dict[str, dict[str, Any]]:
    rows = alert_context(wh, snapshot).to_pyarrow().to_pylist()
    return {r["subscriber_id"]: r for r in rows}


def test_alert_context_columns_by_hand(small: Warehouse) -> None:
    _store_profile(small, SNAPSHOT)
    ctx = _context(small, SNAPSHOT)
    column = {name: {s: r[name] for s, r in ctx.items()} for name in next(iter(ctx.values()))}
    # 29 Feb falls on 28 Feb 2027; a birthday on the snapshot day is 0 days away
    assert column["days_to_birthday"] == {
        "U000000": 120,
        "U000001": 0,
        "U000002": 1,
        "U000003": 364,
        "U000004": None,
        "U000005": 124,
    }
    assert column["days_since_join"]["U000001"] == 365
    assert column["days_since_join"]["U000004"] == 30
    assert column["calendar_months_since_join"]["U000004"] == 0
    assert column["calendar_months_since_join"]["U000005"] == 1
    assert column["tenure_anniversary"] == {
        "U000000": False,
        "U000001": True,  # one year to the day
        "U000002": True,  # reached on 15 October
        "U000003": False,  # reached on 1 November
        "U000004": False,  # joined this month: no whole year yet
        "U000005": False,
    }
    assert column["days_to_contract_end"]["U000000"] == 61
    assert column["bill_ratio_3m"] == {
        "U000000": 2.0,
        "U000001": None,
        "U000002": 0.5,
        "U000003": None,
        "U000004": None,
        "U000005": 1.0,
    }
    assert column["store_survey_score_30d"] == {
        "U000000": 5,  # hotline 0 and the store 1 of 1 October are not counted
        "U000001": 9,
        "U000002": None,
        "U000003": None,
        "U000004": None,
        "U000005": None,
    }
    assert set(column["previous_risk_band"].values()) == {None}  # no scores table yet
    assert set(column["risk_band"].values()) == {None}  # nor scores in the profile


@pytest.mark.parametrize(
    ("snapshot", "leap_birthday", "leap_anniversary"),
    [
        (date(2028, 2, 28), 1, False),  # a leap year: 29 Feb is tomorrow
        (date(2028, 2, 29), 0, True),
        (date(2027, 2, 28), 0, True),  # a common year: celebrated on 28 Feb
        (date(2027, 3, 1), 365, False),  # next one is 29 Feb 2028
    ],
)
def test_29_february(
    small: Warehouse, snapshot: date, leap_birthday: int, leap_anniversary: bool
) -> None:
    _store_profile(small, snapshot)
    row = _context(small, snapshot)["U000000"]
    assert (row["days_to_birthday"], row["tenure_anniversary"]) == (
        leap_birthday,
        leap_anniversary,
    )


def test_previous_risk_band_is_the_latest_earlier_scoring(small: Warehouse) -> None:
    def scores(day: date, bands: dict[str, str]) -> None:
        frame = pd.DataFrame(
            {
                "subscriber_id": list(bands),
                "snapshot_date": [day] * len(bands),
                "churn_probability": [0.5] * len(bands),
                "risk_band": list(bands.values()),
            }
        )
        small.replace_snapshot("scores", ibis.memtable(frame), day)

    scores(date(2026, 8, 31), {"U000000": "high", "U000002": "low"})
    scores(date(2026, 9, 30), {"U000000": "medium", "U000001": "high"})
    scores(SNAPSHOT, {"U000000": "high", "U000001": "high", "U000002": "high"})
    scores(date(2026, 11, 30), {"U000002": "high"})
    _store_profile(small, SNAPSHOT, risk={"U000000": "high", "U000001": "high", "U000002": "high"})
    ctx = alert_context(small, SNAPSHOT)
    previous = {r["subscriber_id"]: r["previous_risk_band"] for r in ctx.to_pyarrow().to_pylist()}
    assert previous == {
        "U000000": "medium",
        "U000001": "high",
        "U000002": None,  # not scored on 30 September (the 31 August score is older)
        "U000003": None,
        "U000004": None,
        "U000005": None,
    }
    result = evaluate_rules(ctx, [RULES.get("risk_band_up")], SNAPSHOT)
    assert fired(result.table) == [("U000000", "risk_band_up"), ("U000002", "risk_band_up")]


# --- the shipped rules on a simulated operator --------------------------------------------


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    root = tmp_path_factory.mktemp("alerts")
    simulate(subscribers=2000, months=6, seed=3, out=root / "sim", end_month="2026-10")
    wh = Warehouse(root / "wh.duckdb", threads=2)
    try:
        ingest(root / "sim", snapshot=SNAPSHOT, warehouse=wh)
        run_pipeline(wh, date(2026, 9, 30), registry=None)
        run_pipeline(wh, SNAPSHOT, registry=None)
        yield wh
    finally:
        wh.close()


def _next_birthday(born: date, today: date) -> int:
    for year in (today.year, today.year + 1):
        try:
            day = born.replace(year=year)
        except ValueError:  # 29 February in a common year
            day = date(year, 2, 28)
        if day >= today:
            return (day - today).days
    raise AssertionError("unreachable")


def test_days_to_birthday_matches_python_on_a_simulated_operator(simulated: Warehouse) -> None:
    ctx = alert_context(simulated, SNAPSHOT).select("subscriber_id", "days_to_birthday")
    subs = as_of_rows(simulated, "subscribers", SNAPSHOT).select("subscriber_id", "birth_date")
    rows = ctx.join(subs, "subscriber_id").to_pyarrow().to_pylist()
    known = [r for r in rows if r["birth_date"] is not None]
    assert len(rows) > 1500 and len(known) > 1000
    got = [r["days_to_birthday"] for r in rows]
    assert got == [
        None if b is None else _next_birthday(b, SNAPSHOT) for b in (r["birth_date"] for r in rows)
    ]
    assert max(d for d in got if d is not None) <= 365


def test_shipped_rules_fire_at_plausible_rates(simulated: Warehouse) -> None:
    context = alert_context(simulated, SNAPSHOT)
    # the hand-built rows above have the real context's columns and types
    schema = context.schema()
    assert {k: schema[k] for k in BASE} == {k: ibis.dtype(t) for k, (t, _) in BASE.items()}
    subscribers = context.count().execute()
    result = evaluate_rules(context, RULES, SNAPSHOT)
    assert result.errors == []
    counts = result.table.group_by("rule_id").aggregate(n=ibis._.count()).to_pandas()
    rate = dict(zip(counts.rule_id, counts.n / subscribers, strict=True))
    # without a model (registry=None) nothing is scored, so no risk band can rise
    expected_silent = {"risk_band_up"}
    for rule in RULES.rules:
        if rule.kind == "alert" and rule.id not in expected_silent:
            assert rate.get(rule.id, 0) > 0, f"{rule.id} never fires"
        assert rate.get(rule.id, 0) <= 0.6, f"{rule.id} fires for {rate[rule.id]:.0%}"
    assert "risk_band_up" not in rate
    # the care triggers the simulator can produce fire too
    assert {"birthday_care", "vip_routine_care", "tenure_anniversary_reward"} <= set(rate)
