"""Anomaly rules (异常库): every shipped rule fires on a subscriber built to contain its anomaly
and not on the clean twin; the anomaly context; broken anomaly rules; alerts and anomalies stay
in their own files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from anomaly_fixtures import CASES, SNAPSHOT, build_warehouse
from weiwan.analytics.alerts import (
    DEFAULT_ANOMALY_FILES,
    DEFAULT_RULE_FILES,
    evaluate_rules,
    load_rules,
)
from weiwan.analytics.anomalies import anomaly_context
from weiwan.analytics.warehouse import Warehouse

RULES = load_rules(DEFAULT_ANOMALY_FILES, kinds=("anomaly",))
PAIRS = [(rule, name) for rule, cases in CASES.items() for name, _hit, _clean in cases]


@pytest.fixture(scope="module")
def fired(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pd.DataFrame]:
    """The shipped rules' firings on the fixture warehouse."""
    path = tmp_path_factory.mktemp("anomalies") / "wh.duckdb"
    with build_warehouse(path) as wh:
        result = evaluate_rules(anomaly_context(wh, SNAPSHOT), RULES, SNAPSHOT)
        assert result.errors == []
        yield result.table.to_pandas()


def _rules_of(fired: pd.DataFrame, subscriber: str) -> set[str]:
    return set(fired.loc[fired.subscriber_id == subscriber, "rule_id"])


def test_the_shipped_rules_load_and_each_has_a_fixture() -> None:
    assert RULES.errors == []
    shipped = {r.id for r in RULES.rules}
    assert shipped == set(CASES), "every shipped anomaly rule needs a case in anomaly_fixtures"
    assert all(r.kind == "anomaly" and r.category for r in RULES.rules)
    assert {r.category for r in RULES.rules} == {"billing", "disconnection"}


@pytest.mark.parametrize(("rule", "case"), PAIRS, ids=[name for _, name in PAIRS])
def test_rule_fires_on_its_anomaly_and_not_on_the_clean_twin(
    fired: pd.DataFrame, rule: str, case: str
) -> None:
    assert rule in _rules_of(fired, f"{case}_hit")
    assert rule not in _rules_of(fired, f"{case}_clean")


def test_nothing_fires_on_an_ordinary_subscriber(fired: pd.DataFrame) -> None:
    assert _rules_of(fired, "base") == set()


def test_firings_are_keyed_by_bill_month_or_event_day_with_evidence(fired: pd.DataFrame) -> None:
    rows = {
        (str(sid), str(rule)): (str(key), json.loads(str(evidence)))
        for sid, rule, key, evidence in fired[
            ["subscriber_id", "rule_id", "period_key", "evidence"]
        ].itertuples(index=False)
    }
    key, evidence = rows["bill_far_above_hit", "bill_far_above"]
    assert key == "2026-10-01"  # the bill month, not the run's day
    assert evidence["bill_1m"] == 160.0 and evidence["bill_mean_prev_3m"] == 80.0
    assert evidence["bill_ratio_prev_3m"] == pytest.approx(2.0)
    key, evidence = rows["port_out_request_hit", "port_out_request"]
    assert key == "2026-10-29"  # the event's day
    assert evidence["status"] == "disconnected"


def test_context_has_the_pool_columns_and_recent_leavers(tmp_path: Path) -> None:
    with build_warehouse(tmp_path / "wh.duckdb") as wh:
        context = anomaly_context(wh, SNAPSHOT).to_pandas().set_index("subscriber_id")
    for column in ("branch", "value_tier", "account_manager", "bill_ratio_prev_3m"):
        assert column in context.columns
    # left 1 day ago: still there; left 11 days ago (the clean twin): gone
    assert "disconnect_request_hit" in context.index
    assert "disconnect_request_clean" not in context.index
    assert context.loc["base", "account_manager"] == "王经理"
    assert context.loc["bill_far_below_hit", "bill_mean_prev_3m"] == 80.0


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


RULE = """
  - id: {id}
    name_zh: 测试
    name_en: Test
    kind: {kind}
    period: daily
    severity: low
    condition: {{field: {field}, op: ">", value: 0}}
"""


def test_broken_anomaly_rules_name_file_rule_and_field(tmp_path: Path) -> None:
    text = "rules:\n" + "".join(
        [
            RULE.format(id="no_category", kind="anomaly", field="bill_1m"),
            RULE.format(id="typo", kind="anomaly", field="bil_1m") + "    category: billing\n",
            RULE.format(id="alert_with_category", kind="alert", field="arpu_1m")
            + "    category: billing\n",
            RULE.format(id="bad_category", kind="anomaly", field="bill_1m")
            + "    category: network\n",
            RULE.format(id="bad_event", kind="anomaly", field="bill_1m")
            + "    category: billing\n    event_date: no_such_day\n",
        ]
    )
    path = _write(tmp_path / "mine.yaml", text)
    rules = load_rules([path])
    problems = {e.rule: str(e) for e in rules.errors}
    at = str(path)
    assert problems["no_category"].startswith(f"{at}: rule no_category: category: required")
    assert problems["alert_with_category"].startswith(
        f"{at}: rule alert_with_category: category: only anomaly rules"
    )
    assert problems["bad_category"].startswith(f"{at}: rule bad_category: category:")
    with build_warehouse(tmp_path / "wh.duckdb") as wh:
        result = evaluate_rules(anomaly_context(wh, SNAPSHOT), rules, SNAPSHOT)
        ran = set(result.table.to_pandas().rule_id)
    errors = {e.rule: str(e) for e in result.errors}
    assert errors["typo"].startswith(f"{at}: rule typo: condition.field: unknown field 'bil_1m'")
    assert errors["bad_event"] == f"{at}: rule bad_event: event_date: unknown column 'no_such_day'"
    assert ran == set()  # the two rules that loaded both failed; nothing half-ran


def test_alerts_and_anomalies_stay_in_their_own_files(tmp_path: Path) -> None:
    assert not any(r.kind == "anomaly" for r in load_rules().rules)
    assert set(DEFAULT_ANOMALY_FILES).isdisjoint(DEFAULT_RULE_FILES)
    mixed = _write(
        tmp_path / "mixed.yaml",
        "rules:\n" + RULE.format(id="an_alert", kind="alert", field="arpu_1m"),
    )
    refused = load_rules([mixed], kinds=("anomaly",))
    assert refused.rules == []
    (error,) = refused.errors
    assert (
        str(error) == f"{mixed}: rule an_alert: kind: alert rules do not belong here (use anomaly)"
    )


def test_context_on_a_warehouse_without_segments_has_null_tiers(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "wh.duckdb", threads=1) as wh:
        from anomaly_fixtures import Sub, load_subscribers

        load_subscribers(wh, {"only": Sub()})
        frame = anomaly_context(wh, SNAPSHOT).to_pandas()
    assert list(frame.subscriber_id) == ["only"] and frame.value_tier.isna().all()


def test_a_leaver_keeps_the_tier_of_the_last_segments_snapshot_holding_them(
    tmp_path: Path,
) -> None:
    """The segments of a date hold only the subscribers on the books, so a leaver's entry takes
    the tier of the last earlier snapshot that held them; a later snapshot is never read."""
    import ibis

    day = SNAPSHOT.toordinal()
    rows = [  # (subscriber, days before the snapshot, tier)
        ("base", 2, "silver"),
        ("base", 0, "diamond"),
        ("base", -1, "mass"),  # after the snapshot: ignored
        ("disconnect_request_hit", 3, "gold"),  # left 1 day before the snapshot
    ]
    with build_warehouse(tmp_path / "wh.duckdb") as wh:
        wh.replace_table(
            "segments",
            ibis.memtable(
                {
                    "subscriber_id": [s for s, _d, _t in rows],
                    "snapshot_date": [date.fromordinal(day - d) for _s, d, _t in rows],
                    "value_tier": [t for _s, _d, t in rows],
                }
            ),
        )
        context = anomaly_context(wh, SNAPSHOT).to_pandas().set_index("subscriber_id")
    assert context.loc["base", "value_tier"] == "diamond"
    assert context.loc["disconnect_request_hit", "value_tier"] == "gold"
    assert pd.isna(context.loc["bill_far_above_hit", "value_tier"])  # in no snapshot
