"""The tag library loads, computes on any feature table, and reports bad tags without failing."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pytest

from weiwan.analytics.tags import TagError, TagLibrary, compute_tags, load_tag_library

FEATURES_DOC = Path(__file__).resolve().parents[2] / "docs" / "features.md"
_CON = ibis.duckdb.connect()

_STRING = ["subscriber_id", "gender", "region", "branch", "brand", "payment_type", "plan_id"]
_STRING += ["join_channel", "device_model", "status"]
_BOOL = ["is_prepaid", "has_account_manager", "in_contract", "call_forwarding_active"]
_INT = [
    "tenure_months", "age", "device_age_months", "months_to_contract_end",
    "competitor_calls_1m", "competitor_calls_3m", "call_forwarding_days_1m",
    "call_forwarding_days_3m", "zero_usage_days_1m", "zero_usage_days_3m", "recharge_months_6m",
    "dropped_calls_1m", "dropped_calls_3m",
    "usage_months", "suspensions_90d", "days_since_suspension", "plan_changes_180d",
    "complaints_90d", "complaints_high_90d", "complaints_total", "complaints_unresolved",
    "complaints_network_90d", "complaints_billing_90d",
    "last_survey_score", "low_scores_180d", "retention_offers_180d", "days_since_retention_offer",
    "days_since_month_end", "over_plan_months_6m", "voice_vs_peak_6m", "data_vs_peak_6m",
    "sms_vs_peak_6m", "contacts_vs_peak_6m",
]  # fmt: skip
_FLOAT = [
    "plan_monthly_fee", "arpu_1m", "bill_mean_3m", "bill_mean_6m", "bill_trend_3m",
    "voice_1m", "voice_mean_3m", "voice_mean_6m", "voice_trend_3m",
    "data_mb_1m", "data_mean_3m", "data_mean_6m", "data_trend_3m",
    "sms_1m", "sms_mean_3m", "sms_mean_6m", "sms_trend_3m",
    "offnet_share_1m", "offnet_share_mean_3m", "offnet_share_change_3m", "balance_1m",
    "recharge_1m", "recharge_mean_3m", "arrears_1m", "vas_mean_3m", "roaming_mean_3m",
    "contacts_1m", "contacts_trend_3m", "bill_over_plan_1m",
]  # fmt: skip
SCHEMA = pa.schema(
    [pa.field("subscriber_id", pa.string()), pa.field("snapshot_date", pa.date32())]
    + [pa.field(c, pa.string()) for c in _STRING[1:]]
    + [pa.field(c, pa.bool_()) for c in _BOOL]
    + [pa.field(c, pa.int64()) for c in _INT]
    + [pa.field(c, pa.float64()) for c in _FLOAT]
)
SNAPSHOT = dt.date(2024, 6, 30)


def documented_features() -> set[str]:
    """Feature names from the table in docs/features.md (the contract tags are written over)."""
    names: set[str] = set()
    for line in FEATURES_DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 3 and not cells[0].startswith(("*", "-")):
            names |= {n.strip() for n in cells[0].split(",")} - {"feature"}
    return names


def synthetic_features(n: int = 200, seed: int = 7) -> pa.Table:
    """Plausible random features with some NULLs, every documented column present."""
    rng = np.random.default_rng(seed)

    def nulls(values: np.ndarray, share: float = 0.08) -> list[Any]:
        return [None if rng.random() < share else v.item() for v in values]

    prepaid = rng.random(n) < 0.35
    data: dict[str, Any] = {
        "subscriber_id": [f"S{i:05d}" for i in range(n)],
        "snapshot_date": [SNAPSHOT] * n,
        "gender": nulls(rng.choice(["M", "F", "U"], n)),
        "region": rng.choice(["南宁", "柳州", "桂林"], n).tolist(),
        "branch": rng.choice(["南宁城区分公司", "桂林阳朔支局"], n).tolist(),
        "brand": rng.choice(["全球通", "动感地带", "神州行"], n).tolist(),
        "payment_type": np.where(prepaid, "prepaid", "postpaid").tolist(),
        "plan_id": rng.choice(["TC018", "TC058", "TC128", "TC388"], n).tolist(),
        "join_channel": nulls(rng.choice(["store", "online", "agent_outlet", "hotline"], n)),
        "device_model": nulls(rng.choice(["华为 nova 12", "iPhone 14", "OPPO A2"], n)),
        "status": rng.choice(["active"] * 8 + ["suspended_arrears", "pre_disconnect"], n).tolist(),
        "is_prepaid": prepaid.tolist(),
        "has_account_manager": (rng.random(n) < 0.1).tolist(),
    }
    contract_end = rng.integers(-12, 24, n)
    data["months_to_contract_end"] = nulls(contract_end, 0.4)
    data["in_contract"] = [m is not None and m > 0 for m in data["months_to_contract_end"]]
    data["call_forwarding_active"] = (rng.random(n) < 0.03).tolist()
    for column in _INT:
        if column not in data:
            top = {"tenure_months": 240, "age": 85, "device_age_months": 60}.get(column, 4)
            data[column] = nulls(rng.integers(0, top, n) if top > 4 else rng.poisson(0.4, n))
    data["last_survey_score"] = nulls(rng.integers(0, 11, n), 0.5)
    for column in _FLOAT:
        scale = {"plan_monthly_fee": 100, "data_mb_1m": 5000, "data_mean_3m": 5000}.get(column, 80)
        values = rng.lognormal(np.log(scale), 0.8, n)
        if "trend" in column or "change" in column:
            values = rng.normal(0, 0.4, n)
        data[column] = nulls(np.round(values, 2))
    data["balance_1m"] = nulls(np.round(rng.normal(20, 30, n), 2))
    return pa.Table.from_pydict(data, schema=SCHEMA)


NEUTRAL: dict[str, Any] = {
    **{c: 0 for c in _INT},
    **{c: 0.0 for c in _FLOAT},
    **{c: False for c in _BOOL},
    "subscriber_id": "S1",
    "snapshot_date": SNAPSHOT,
    "gender": "U", "region": "南宁", "branch": "南宁城区分公司", "brand": "动感地带",
    "payment_type": "postpaid", "plan_id": "TC058", "join_channel": "store",
    "device_model": "iPhone 14", "status": "active", "tenure_months": 36, "age": 40,
    "plan_monthly_fee": 58.0, "arpu_1m": 60.0, "bill_mean_3m": 60.0, "bill_mean_6m": 60.0,
    "voice_1m": 200.0, "data_mb_1m": 4000.0, "sms_1m": 10.0, "months_to_contract_end": None,
    "last_survey_score": None, "device_age_months": 12,
}  # fmt: skip


def rows(*overrides: dict[str, Any]) -> ir.Table:
    records = [{**NEUTRAL, "subscriber_id": f"S{i}", **o} for i, o in enumerate(overrides)]
    return ibis.memtable(pa.Table.from_pylist(records, schema=SCHEMA))


def tag_values(features: ir.Table, library: TagLibrary | None = None) -> dict[str, list[Any]]:
    result = compute_tags(features, library or load_tag_library())
    assert result.errors == []
    table = _CON.to_pyarrow(result.table.order_by("subscriber_id"))
    return {name: table[name].to_pylist() for name in table.column_names}


def test_synthetic_features_cover_the_documented_table() -> None:
    assert documented_features() == set(SCHEMA.names)


def test_default_library_loads_cleanly() -> None:
    library = load_tag_library()
    assert library.errors == []
    ids = [t.id for t in library.tags]
    assert len(ids) >= 45
    assert len(set(ids)) == len(ids)
    assert {t.category for t in library.tags} == {
        "basic",
        "behaviour",
        "preference",
        "value",
        "risk",
    }
    assert all(re.search(r"[\u4e00-\u9fff]", t.name_zh) for t in library.tags)


def test_default_library_computes_on_every_feature() -> None:
    library = load_tag_library()
    result = compute_tags(ibis.memtable(synthetic_features()), library)
    assert result.errors == []
    table = _CON.to_pyarrow(result.table)
    assert table.num_rows == 200
    assert table.column_names == ["subscriber_id", "snapshot_date", *(t.id for t in library.tags)]
    for tag in library.tags:
        values = table[tag.id].to_pylist()
        if tag.band is None:
            assert result.table.schema()[tag.id].is_boolean(), tag.id
            assert None not in values, tag.id
        else:
            assert set(values) <= {b.id for b in tag.band.bands} | {None}, tag.id
            assert len(set(values) - {None}) >= 2, f"{tag.id} puts everyone in one band"
    flagged = sum(any(table[t.id].to_pylist()) for t in library.tags if t.band is None)
    assert flagged >= 0.8 * sum(t.band is None for t in library.tags)


def test_flags_on_hand_built_rows() -> None:
    v = tag_values(
        rows(
            {"competitor_calls_3m": 3, "offnet_share_change_3m": 0.15},
            {"competitor_calls_3m": 1, "competitor_calls_1m": 1},
            {"months_to_contract_end": 2, "in_contract": True},
            {"months_to_contract_end": 3, "in_contract": True},
            {"months_to_contract_end": -1},
            {"payment_type": "prepaid", "is_prepaid": True, "balance_1m": 4.0},
            {"balance_1m": -10.0, "arrears_1m": 10.0},
            {"voice_1m": 0.0, "data_mb_1m": 0.0, "sms_1m": 0.0, "last_survey_score": 6},
            {"status": "pre_disconnect", "call_forwarding_active": True, "tenure_months": 4},
            {"voice_trend_3m": -0.6, "data_trend_3m": -0.7, "last_survey_score": 7},
        )
    )
    assert v["competitor_service_caller"] == [True, True] + [False] * 8
    assert v["frequent_competitor_caller"] == [True] + [False] * 9
    assert v["competitor_caller_recent"] == [False, True] + [False] * 8
    assert v["competitor_poaching"] == [True] + [False] * 9
    assert v["contract_ending_soon"] == [False, False, True] + [False] * 7
    assert v["contract_recently_expired"] == [False] * 4 + [True] + [False] * 5
    assert v["no_contract"] == [True, True, False, False, False] + [True] * 5
    assert v["low_balance"] == [False] * 5 + [True] + [False] * 4
    assert v["in_arrears"] == [False] * 6 + [True] + [False] * 3
    assert v["zero_usage"] == [False] * 7 + [True] + [False] * 2
    assert v["low_survey_score"] == [False] * 7 + [True] + [False] * 2
    assert v["pre_disconnect"] == [False] * 8 + [True, False]
    assert v["call_forwarding"] == [False] * 8 + [True, False]
    assert v["new_subscriber"] == [False] * 8 + [True, False]
    assert v["usage_collapse"] == [False] * 9 + [True]
    assert v["voice_down_30pct"] == [False] * 9 + [True]


def test_bands_are_half_open_and_null_for_null() -> None:
    arpu = [29.99, 30.0, 50.0, 99.5, 100.0, 200.0, None]
    v = tag_values(rows(*({"arpu_1m": a} for a in arpu)))
    assert v["arpu_band"] == [
        "arpu_0_30", "arpu_30_50", "arpu_50_100", "arpu_50_100", "arpu_100_200",
        "arpu_200_plus", None,
    ]  # fmt: skip


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
  - {id: good_one, name_zh: 好标签, name_en: Good, category: risk, version: 1,
     expression: competitor_calls_3m >= 2}
"""
BAD_TAGS = (
    "tags:"
    + GOOD
    + """
  - {id: no_chinese, name_en: No Chinese name, category: basic, version: 1, expression: age > 1}
  - id: both_kinds
    name_zh: 两者都有
    name_en: Both
    category: value
    version: 1
    expression: arpu_1m > 1
    band: {feature: arpu_1m, bands: [{id: a, name_zh: 甲, name_en: A}]}
  - id: overlapping
    name_zh: 重叠分档
    name_en: Overlapping bands
    category: value
    version: 1
    band:
      feature: arpu_1m
      bands:
        - {id: low, name_zh: 低, name_en: Low, max: 50}
        - {id: high, name_zh: 高, name_en: High, min: 40}
  - {id: sneaky, name_zh: 注入, name_en: Sneaky, category: risk, version: 1,
     expression: "__import__('os').system('ls')"}
  - {id: unknown_feature, name_zh: 未知特征, name_en: Unknown, category: risk, version: 1,
     expression: compettor_calls_3m > 1}
  - id: unknown_band_feature
    name_zh: 未知分档特征
    name_en: Unknown band feature
    category: value
    version: 1
    band: {feature: arpu_2m, bands: [{id: a, name_zh: 甲, name_en: A}]}
  - {id: type_error, name_zh: 类型错误, name_en: Type error, category: risk, version: 1,
     expression: payment_type > 3}
  - {id: not_a_flag, name_zh: 非布尔, name_en: Not a flag, category: risk, version: 1,
     expression: arpu_1m * 2}
  - {name_zh: 无编号, name_en: No id, category: risk, version: 1, expression: age > 1}
  - {id: last_good, name_zh: 最后一个, name_en: Last good, category: basic, version: 2,
     expression: 'status == "active"'}
"""
)


def test_bad_tags_are_reported_and_the_rest_still_compute(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", BAD_TAGS)
    broken = write(tmp_path / "broken.yaml", "tags:\n  - {id: x, name_zh: [unclosed\n")
    library = load_tag_library([tmp_path])
    assert [t.id for t in library.tags] == [
        "good_one", "unknown_feature", "unknown_band_feature", "type_error", "not_a_flag",
        "last_good",
    ]  # fmt: skip
    loading = {e.tag_id: e for e in library.errors if e.file == str(bad)}
    assert loading[None].file == str(bad) and "entry #10" in loading[None].problem
    assert "field id" in loading[None].problem
    assert loading["no_chinese"].file == str(bad)
    assert "field name_zh: Field required" in loading["no_chinese"].problem
    assert "exactly one of 'expression' (a flag) or 'band'" in loading["both_kinds"].problem
    assert "bands 'low' and 'high' overlap" in loading["overlapping"].problem
    assert "expression: attribute access (a.b) is not allowed" in loading["sneaky"].problem
    (file_error,) = [e for e in library.errors if e.file == str(broken)]
    assert file_error.tag_id is None and "cannot read tag file" in file_error.problem

    result = compute_tags(rows({"competitor_calls_3m": 2}, {}), library)
    problems = {e.tag_id: e.problem for e in result.errors}
    assert all(e.file == str(bad) for e in result.errors)
    assert (
        "unknown column 'compettor_calls_3m'; did you mean competitor_calls_3m"
        in (problems["unknown_feature"])
    )
    assert "unknown column 'arpu_2m'; did you mean arpu_1m" in problems["unknown_band_feature"]
    assert "cannot mix numbers and text in '>'" in problems["type_error"]
    assert "must be true/false" in problems["not_a_flag"]
    values = _CON.to_pyarrow(result.table.order_by("subscriber_id")).to_pydict()
    assert values == {
        "subscriber_id": ["S0", "S1"],
        "snapshot_date": [SNAPSHOT, SNAPSHOT],
        "good_one": [True, False],
        "last_good": [True, True],
    }
    assert str(result.errors[0]).startswith(f"{bad}, tag 'unknown_feature': unknown column")


def test_duplicate_ids_keep_the_first(tmp_path: Path) -> None:
    first = write(tmp_path / "a.yaml", "tags:" + GOOD)
    second = write(tmp_path / "b.yaml", "tags:" + GOOD.replace("好标签", "重复"))
    library = load_tag_library([first, second])
    assert [t.name_zh for t in library.tags] == ["好标签"]
    assert library.errors == [
        TagError(str(second), "good_one", f"duplicate id, already defined in {first}")
    ]


def test_tag_ids_may_not_shadow_feature_columns(tmp_path: Path) -> None:
    clash = GOOD.replace("good_one", "arpu_1m")
    library = load_tag_library([write(tmp_path / "clash.yaml", "tags:" + clash + GOOD)])
    result = compute_tags(rows({}), library)
    assert [e.tag_id for e in result.errors] == ["arpu_1m"]
    assert "also a feature column" in result.errors[0].problem
    assert "good_one" in result.table.columns


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- just a list\n", "expected a mapping with a 'tags:' list"),
        ("tags: []\nowner: me\n", "expected a mapping with a 'tags:' list"),
        ("", "expected a mapping"),
    ],
)
def test_malformed_files_are_file_errors(tmp_path: Path, text: str, problem: str) -> None:
    library = load_tag_library([write(tmp_path / "x.yaml", text)])
    assert [(e.tag_id, problem in e.problem) for e in library.errors] == [(None, True)]


def test_catalog_describes_every_tag() -> None:
    library = load_tag_library()
    catalog = {entry["id"]: entry for entry in library.catalog()}
    assert len(catalog) == len(library.tags)
    arpu = catalog["arpu_band"]
    assert arpu["kind"] == "band" and arpu["file"] == "value.yaml" and arpu["version"] == 1
    assert arpu["band_ids"][0] == "arpu_0_30" and arpu["feature"] == "arpu_1m"
    assert catalog["competitor_service_caller"]["name_zh"] == "呼叫异网客服"
    assert catalog["zero_usage"]["kind"] == "flag" and catalog["zero_usage"]["band_ids"] == []


def test_poor_network_experience_needs_the_dropped_calls() -> None:
    """Four dropped calls last month set it; fewer do not; an operator that delivers no
    dropped-call counts (NULL) never has it set."""
    v = tag_values(
        rows(
            {"dropped_calls_1m": 4},
            {"dropped_calls_1m": 3, "dropped_calls_3m": 9},
            {"dropped_calls_1m": None, "dropped_calls_3m": None},
        )
    )
    assert v["poor_network_experience"] == [True, False, False]
