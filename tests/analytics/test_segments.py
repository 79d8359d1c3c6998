"""Segment rules on hand-built feature rows, computed on DuckDB through Ibis."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest
import yaml

from weiwan.analytics.segments import (
    SegmentConfig,
    compute_segments,
    load_segment_config,
)
from weiwan.core.errors import ConfigError

SNAPSHOT = date(2026, 6, 30)
SCHEMA = pa.schema(
    [
        ("subscriber_id", pa.string()),
        ("snapshot_date", pa.date32()),
        ("tenure_months", pa.int64()),
        ("is_prepaid", pa.bool_()),
        ("balance_1m", pa.float64()),
        ("months_to_contract_end", pa.int64()),
        ("in_contract", pa.bool_()),
        ("arpu_1m", pa.float64()),
        ("bill_mean_3m", pa.float64()),
        ("bill_trend_3m", pa.float64()),
        ("voice_trend_3m", pa.float64()),
        ("data_trend_3m", pa.float64()),
    ]
)
DEFAULTS: dict[str, Any] = {
    "snapshot_date": SNAPSHOT,
    "tenure_months": 36,
    "is_prepaid": False,
    "balance_1m": 50.0,
    "months_to_contract_end": None,
    "in_contract": False,
    "arpu_1m": 50.0,
    "bill_mean_3m": 50.0,
    "bill_trend_3m": 0.0,
    "voice_trend_3m": 0.0,
    "data_trend_3m": 0.0,
}


def features(rows: list[dict[str, Any]]) -> ir.Table:
    full = [{**DEFAULTS, **row} for row in rows]
    return ibis.memtable(pa.Table.from_pylist(full, schema=SCHEMA))


def segments(rows: list[dict[str, Any]], config: SegmentConfig | None = None) -> dict[str, Any]:
    con = ibis.duckdb.connect()
    result = con.to_pyarrow(compute_segments(features(rows), config or load_segment_config()))
    return {r["subscriber_id"]: r for r in result.to_pylist()}


def test_value_tier_percentile_boundaries() -> None:
    rows = [{"subscriber_id": f"s{i:03d}", "bill_mean_3m": float(i)} for i in range(1, 101)]
    out = segments(rows)
    tier = {int(k[1:]): v["value_tier"] for k, v in out.items()}
    assert tier[100] == "diamond"
    assert {tier[i] for i in range(96, 100)} == {"gold"}
    assert {tier[i] for i in range(86, 96)} == {"silver"}
    assert {tier[i] for i in range(51, 86)} == {"ordinary"}
    assert {tier[i] for i in range(1, 51)} == {"mass"}


def test_value_tier_is_per_snapshot_and_ties_share_the_higher_tier() -> None:
    rows = [{"subscriber_id": f"a{i:03d}", "bill_mean_3m": float(i)} for i in range(1, 101)]
    rows += [
        {"subscriber_id": f"b{i:03d}", "bill_mean_3m": 1.0, "snapshot_date": date(2026, 5, 31)}
        for i in range(10)
    ]
    rows.append({"subscriber_id": "a999", "bill_mean_3m": None})
    out = segments(rows)
    assert {out[f"b{i:03d}"]["value_tier"] for i in range(10)} == {"diamond"}
    assert out["a999"]["value_tier"] == "mass"
    assert out["a100"]["value_tier"] == "diamond"


def test_value_tier_absolute_floors_and_arpu_basis() -> None:
    config = load_segment_config().model_copy(
        update={
            "value_tier": load_segment_config().value_tier.model_copy(
                update={"method": "absolute", "basis": "arpu_1m"}
            )
        }
    )
    arpus = {"d": 300.0, "g": 299.99, "s": 80.0, "o": 30.0, "m": 29.99}
    rows = [{"subscriber_id": k, "arpu_1m": v, "bill_mean_3m": 0.0} for k, v in arpus.items()]
    out = segments(rows, config)
    assert {k: v["value_tier"] for k, v in out.items()} == {
        "d": "diamond",
        "g": "gold",
        "s": "silver",
        "o": "ordinary",
        "m": "mass",
    }


@pytest.mark.parametrize(
    ("row", "stage"),
    [
        ({"tenure_months": 5, "bill_trend_3m": -0.5}, "onboarding"),
        ({"tenure_months": 6}, "maturity"),
        ({"bill_trend_3m": -0.2}, "decline"),
        ({"bill_trend_3m": -0.19}, "maturity"),
        ({"voice_trend_3m": -0.2, "data_trend_3m": -0.25}, "decline"),
        ({"voice_trend_3m": -0.3, "data_trend_3m": 0.0}, "maturity"),
        (
            {"months_to_contract_end": -1, "in_contract": False, "voice_trend_3m": -0.1},
            "decline",
        ),
        ({"months_to_contract_end": 5, "in_contract": True, "voice_trend_3m": -0.1}, "maturity"),
        ({"months_to_contract_end": None, "voice_trend_3m": -0.1}, "maturity"),
        ({"tenure_months": 23, "bill_trend_3m": 0.1}, "growth"),
        ({"tenure_months": 23, "data_trend_3m": 0.5}, "growth"),
        ({"tenure_months": 24, "bill_trend_3m": 0.5}, "maturity"),
        ({"tenure_months": 12, "bill_trend_3m": 0.09}, "maturity"),
        ({"tenure_months": 12, "bill_trend_3m": None, "data_trend_3m": None}, "maturity"),
        (
            {
                "tenure_months": 12,
                "bill_trend_3m": 0.3,
                "voice_trend_3m": -0.3,
                "data_trend_3m": -0.3,
            },
            "decline",
        ),
    ],
)
def test_lifecycle_rules(row: dict[str, Any], stage: str) -> None:
    assert segments([{"subscriber_id": "x", **row}])["x"]["lifecycle_stage"] == stage


def test_bands_and_contract_status() -> None:
    rows = [
        {"subscriber_id": "owing", "is_prepaid": True, "balance_1m": -0.01},
        {"subscriber_id": "zero", "is_prepaid": True, "balance_1m": 0.0},
        {"subscriber_id": "ten", "is_prepaid": True, "balance_1m": 10.0},
        {"subscriber_id": "rich", "is_prepaid": True, "balance_1m": 100.0},
        {"subscriber_id": "nobal", "is_prepaid": True, "balance_1m": None},
        {"subscriber_id": "post", "is_prepaid": False, "balance_1m": 5.0},
        {"subscriber_id": "t0", "tenure_months": 0},
        {"subscriber_id": "t6", "tenure_months": 6},
        {"subscriber_id": "t60", "tenure_months": 60},
        {"subscriber_id": "c_in", "months_to_contract_end": 3, "in_contract": True},
        {"subscriber_id": "c_exp", "months_to_contract_end": 2, "in_contract": True},
        {"subscriber_id": "c_exp0", "months_to_contract_end": 0, "in_contract": True},
        {"subscriber_id": "c_out", "months_to_contract_end": -1, "in_contract": False},
    ]
    out = segments(rows)
    balance = {k: out[k]["balance_band"] for k in ("owing", "zero", "ten", "rich", "nobal", "post")}
    assert balance == {
        "owing": "owing",
        "zero": "balance_0_10",
        "ten": "balance_10_30",
        "rich": "balance_100_plus",
        "nobal": None,
        "post": None,
    }
    assert out["t0"]["tenure_band"] == "tenure_0_6"
    assert out["t6"]["tenure_band"] == "tenure_6_12"
    assert out["t60"]["tenure_band"] == "tenure_60_plus"
    assert out["owing"]["contract_status"] == "no_contract"
    assert out["c_in"]["contract_status"] == "in_contract"
    assert out["c_exp"]["contract_status"] == "expiring"
    assert out["c_exp0"]["contract_status"] == "expiring"
    assert out["c_out"]["contract_status"] == "out_of_contract"


def test_output_columns() -> None:
    result = compute_segments(features([{"subscriber_id": "x"}]), load_segment_config())
    assert result.columns == (
        "subscriber_id",
        "snapshot_date",
        "value_tier",
        "lifecycle_stage",
        "balance_band",
        "tenure_band",
        "contract_status",
    )


def _write(tmp_path: Path, change: dict[str, Any]) -> Path:
    raw = yaml.safe_load(
        (Path(__file__).parents[2] / "src/weiwan/analytics/segments.yaml").read_text("utf-8")
    )
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        node = raw
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[last] = value
    path = tmp_path / "segments.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), "utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ({"value_tier.percentiles.gold": 1.5}, "value_tier.percentiles.gold"),
        ({"value_tier.percentiles.ordinary": 0.9}, "value_tier.percentiles"),
        ({"value_tier.basis": "arpu_2m"}, "value_tier.basis"),
        ({"value_tier.absolute_cny.gold": 500}, "value_tier.absolute_cny"),
        ({"lifecycle.onboarding_max_tenure_monhts": 6}, "lifecycle.onboarding_max_tenure_monhts"),
        ({"contract.expiring_within_months": "soon"}, "contract.expiring_within_months"),
        ({"clv.margin_rate": 1.5}, "clv.margin_rate"),
        ({"tenure_bands.1.min": 7}, "tenure_bands"),
    ],
)
def test_config_errors_name_file_and_field(
    tmp_path: Path, change: dict[str, Any], names: str
) -> None:
    path = _write(tmp_path, change)
    with pytest.raises(ConfigError) as err:
        load_segment_config(path)
    assert str(path) in str(err.value)
    assert names in str(err.value)


def test_unreadable_config(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("value_tier: [", "utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml"):
        load_segment_config(path)
