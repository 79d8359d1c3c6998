"""Target filters compiled to Ibis and run on DuckDB, saved target groups, error paths."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest

from weiwan.analytics.targets import (
    FilterError,
    TargetFilter,
    compile_filter,
    evaluate_groups,
    load_target_groups,
    preview,
)
from weiwan.core.errors import ConfigError

PROFILE = pa.table(
    {
        "subscriber_id": ["a", "b", "c", "d", "e"],
        "arpu_1m": [10.0, 50.0, 99.5, None, 200.0],
        "tenure_months": pa.array([1, 6, 24, 60, 120], pa.int64()),
        "value_tier": ["mass", "ordinary", "silver", "gold", "diamond"],
        "contract_end": pa.array(
            [date(2026, 7, 1), None, date(2026, 9, 1), date(2027, 1, 1), None], pa.date32()
        ),
        "high_offnet_caller": [True, False, None, True, False],
        "arpu_band": ["arpu_0_50", "arpu_50_100", "arpu_50_100", None, "arpu_100_plus"],
    }
)


@pytest.fixture(scope="module")
def profile() -> ir.Table:
    con = ibis.duckdb.connect()
    return con.create_table("profile", PROFILE)


def ids(profile: ir.Table, filt: dict[str, Any]) -> list[str]:
    selected = profile.filter(compile_filter(filt, profile)).order_by("subscriber_id")
    return list(selected.subscriber_id.to_pyarrow().to_pylist())


@pytest.mark.parametrize(
    ("leaf", "expected"),
    [
        ({"field": "arpu_1m", "op": "=", "value": 50}, ["b"]),
        ({"field": "arpu_1m", "op": "!=", "value": 50}, ["a", "c", "e"]),
        ({"field": "arpu_1m", "op": ">", "value": 50}, ["c", "e"]),
        ({"field": "arpu_1m", "op": ">=", "value": 50}, ["b", "c", "e"]),
        ({"field": "arpu_1m", "op": "<", "value": 50}, ["a"]),
        ({"field": "arpu_1m", "op": "<=", "value": 50.0}, ["a", "b"]),
        ({"field": "arpu_1m", "op": "between", "value": [50, 99.5]}, ["b", "c"]),
        ({"field": "tenure_months", "op": "between", "value": [6, 60]}, ["b", "c", "d"]),
        ({"field": "value_tier", "op": "in", "value": ["gold", "diamond"]}, ["d", "e"]),
        ({"field": "value_tier", "op": "not_in", "value": ["gold", "mass"]}, ["b", "c", "e"]),
        ({"field": "arpu_1m", "op": "is_null"}, ["d"]),
        ({"field": "arpu_1m", "op": "not_null"}, ["a", "b", "c", "e"]),
        ({"field": "contract_end", "op": "<=", "value": "2026-09-01"}, ["a", "c"]),
        (
            {"field": "contract_end", "op": "between", "value": ["2026-08-01", "2027-06-30"]},
            ["c", "d"],
        ),
        ({"field": "arpu_band", "op": "=", "value": "arpu_50_100"}, ["b", "c"]),
        ({"field": "high_offnet_caller", "op": "=", "value": False}, ["b", "e"]),
        ({"tag": "high_offnet_caller"}, ["a", "d"]),
    ],
)
def test_each_op(profile: ir.Table, leaf: dict[str, Any], expected: list[str]) -> None:
    assert ids(profile, leaf) == expected


def test_nested_all_any_not(profile: ir.Table) -> None:
    filt = {
        "all": [
            {"any": [{"tag": "high_offnet_caller"}, {"field": "arpu_1m", "op": ">", "value": 100}]},
            {"not": {"field": "value_tier", "op": "=", "value": "gold"}},
        ]
    }
    assert ids(profile, filt) == ["a", "e"]
    # A NULL field never matches a leaf, so ``not`` is the exact complement.
    assert ids(profile, {"not": {"field": "arpu_1m", "op": ">=", "value": 50}}) == ["a", "d"]
    assert ids(profile, {"not": {"tag": "high_offnet_caller"}}) == ["b", "c", "e"]


@pytest.mark.parametrize(
    ("filt", "message"),
    [
        (
            {
                "all": [
                    {"tag": "high_offnet_caller"},
                    {"field": "tenure_months", "op": "=", "value": 1},
                    {"field": "arpu1m", "op": ">=", "value": 1},
                ]
            },
            "all[2].field: unknown field 'arpu1m' (did you mean 'arpu_1m'?)",
        ),
        ({"field": "arpu_1m", "op": "~", "value": 1}, "op: Input should be"),
        ({"field": "arpu_1m", "op": ">=", "value": "fifty"}, "value: 'fifty' does not fit"),
        ({"field": "value_tier", "op": ">", "value": "gold"}, "op: '>' needs a number or date"),
        ({"field": "arpu_1m", "op": "between", "value": [1]}, "value: between needs [low, high]"),
        ({"field": "arpu_1m", "op": "in", "value": 5}, "value: in needs a non-empty list"),
        ({"field": "arpu_1m", "op": "is_null", "value": 5}, "value: is_null takes no value"),
        ({"field": "arpu_1m", "op": ">="}, "value: '>=' needs a value"),
        ({"field": "contract_end", "op": "<", "value": "soon"}, "value: 'soon' does not fit"),
        ({"any": [{"not": {"tag": "value_tier"}}]}, "any[0].not.tag: 'value_tier' is string"),
        ({"any": [{"not": {"tag": "hi_offnet_caller"}}]}, "did you mean 'high_offnet_caller'"),
        ({"any": []}, "any: expected a non-empty list"),
        ({"all": [{"field": "arpu_1m", "op": "=", "value": 1, "tag": "x"}]}, "all[0]: expected"),
        ({"all": ["arpu_1m > 5"]}, "all[0]: expected an object, got str"),
        ({"all": [{"field": "arpu_1m", "op": "=", "value": 1, "extra": 2}]}, "all[0].extra"),
    ],
)
def test_errors_name_the_path(profile: ir.Table, filt: dict[str, Any], message: str) -> None:
    with pytest.raises(FilterError) as err:
        compile_filter(filt, profile)
    assert message in str(err.value)


def test_preview_count_equals_filtered_count(profile: ir.Table) -> None:
    filt = {"field": "arpu_1m", "op": ">=", "value": 10}
    count, rows = preview(profile, filt, sample=2)
    assert count == len(ids(profile, filt)) == 4
    assert [r["subscriber_id"] for r in rows] == ["a", "b"]
    assert set(rows[0]) == set(PROFILE.column_names)
    assert preview(profile, TargetFilter.parse(filt))[0] == 4


def _default_profile() -> ir.Table:
    columns: dict[str, list[Any]] = {
        "subscriber_id": [
            "vip_comp",
            "prepaid_low",
            "renew",
            "newbie",
            "gold_down",
            "silent",
            "unhappy",
            "plain",
        ],
        "value_tier": ["gold", "mass", "ordinary", "mass", "diamond", "mass", "silver", "mass"],
        "competitor_calls_3m": [2, 0, 0, 0, 0, 0, 0, 0],
        "call_forwarding_days_1m": [0] * 8,
        "offnet_share_change_3m": [0.0] * 8,
        "is_prepaid": [False, True, False, False, False, False, False, True],
        "balance_1m": [0.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0, 50.0],
        "status": ["active"] * 8,
        "contract_status": ["in_contract", "no_contract", "expiring"] + ["no_contract"] * 5,
        "tenure_months": [30, 30, 30, 1, 30, 30, 30, 30],
        "lifecycle_stage": ["maturity"] * 4 + ["decline"] + ["maturity"] * 3,
        "zero_usage_days_1m": [0, 0, 0, 0, 0, 25, 0, 0],
        "clv_quadrant": ["cultivate"] * 6 + ["retain_with_added_value", "cultivate"],
        "complaints_unresolved": [0] * 8,
        "last_survey_score": [None] * 6 + [5, None],
    }
    return ibis.memtable(pa.table(columns))


def test_default_groups_load_and_evaluate() -> None:
    groups = load_target_groups()
    assert len(groups) >= 6
    assert all(g.name_zh and g.name_en and g.description for g in groups)
    result = ibis.duckdb.connect().to_pyarrow(evaluate_groups(_default_profile(), groups))
    members = sorted(
        zip(result["group_id"].to_pylist(), result["subscriber_id"].to_pylist(), strict=True)
    )
    assert members == sorted(
        [
            ("high_value_competitor_risk", "vip_comp"),
            ("prepaid_low_balance", "prepaid_low"),
            ("contract_expiring", "renew"),
            ("new_subscriber_welcome", "newbie"),
            ("gold_plus_decliners", "gold_down"),
            ("silent_zero_usage", "silent"),
            ("dissatisfied_valuable", "unhappy"),
        ]
    )


def test_group_file_errors_name_file_group_and_path(tmp_path: Path) -> None:
    path = tmp_path / "groups.yaml"
    path.write_text(
        "groups:\n"
        "  - id: bad_one\n    name_zh: 坏\n    name_en: Bad\n"
        "    filter: {all: [{field: arpu_1m, op: '=>', value: 1}]}\n",
        "utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_target_groups(path)
    assert str(path) in str(err.value)
    assert "group bad_one" in str(err.value)
    assert "all[0].op" in str(err.value)

    path.write_text("groups: {}\n", "utf-8")
    with pytest.raises(ConfigError, match="'groups' list"):
        load_target_groups(path)


def test_evaluate_groups_names_the_group_on_unknown_field(tmp_path: Path) -> None:
    path = tmp_path / "groups.yaml"
    path.write_text(
        "groups:\n  - id: needs_score\n    name_zh: 评分\n    name_en: Score\n"
        "    filter: {field: churn_score, op: '>=', value: 0.5}\n",
        "utf-8",
    )
    groups = load_target_groups(path)
    with pytest.raises(FilterError, match="group needs_score: field: unknown field 'churn_score'"):
        evaluate_groups(ibis.memtable(PROFILE), groups)
