"""Ingest: validation, quarantine, atomicity and idempotency on the real DuckDB warehouse."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import factories as f
from weiwan.analytics.ingest import ingest
from weiwan.analytics.mapping import Mapping
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.errors import ContractError

SNAP = date(2026, 10, 31)


def dump(wh: Warehouse) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the warehouse holds (but load timestamps), for before/after comparisons."""
    tables = ["subscribers", "monthly_usage", "status_events", "quarantine", "extra_columns"]
    state = {t: sorted(map(repr, wh.execute(f"SELECT * FROM {t}"))) for t in tables}
    state["ingest_log"] = sorted(
        map(repr, wh.execute("SELECT * EXCLUDE (loaded_at) FROM ingest_log"))
    )
    return {k: [tuple(v)] for k, v in state.items()}


def quarantine(wh: Warehouse) -> list[tuple[Any, ...]]:
    return wh.execute(
        "SELECT file, line, column_name, value, reason FROM quarantine ORDER BY line, column_name"
    )


def test_valid_delivery_loads_every_row(tmp_path: Path, warehouse: Warehouse) -> None:
    f.delivery(tmp_path, subscribers=20)
    result = ingest(tmp_path, snapshot=SNAP, warehouse=warehouse)
    summary = result.as_json()["tables"]
    assert summary["subscribers"]["loaded"] == 20
    assert summary["monthly_usage"] == {
        "file": "monthly_usage.csv",
        "rows": 40,
        "loaded": 40,
        "quarantined": 0,
        "quarantined_share": 0.0,
        "unchanged": False,
        "ignored_columns": [],
        "not_delivered": [],
        "quarantine": {},
    }
    row = warehouse.execute(
        "SELECT bill_month, bill_amount, sms_count, _snapshot FROM monthly_usage "
        "WHERE subscriber_id = 'U000003' ORDER BY bill_month"
    )
    assert row[0] == (date(2026, 9, 1), 99.5, 12, SNAP)


def test_bad_values_are_quarantined_cell_by_cell_and_good_rows_load(
    tmp_path: Path, warehouse: Warehouse
) -> None:
    f.delivery(tmp_path, subscribers=5, months=())
    rows = [f.usage(i, "2026-10") for i in range(5)]
    rows[1]["offnet_voice_share"] = "1.5"
    rows[1]["sms_count"] = "abc"
    rows[2]["bill_month"] = "2026-13"
    rows[3]["subscriber_id"] = "U999999"
    rows.append(f.usage(0, "2026-10"))  # duplicate key of line 2
    f.write_csv(tmp_path / "monthly_usage.csv", f.USAGE_HEADER, rows)
    result = ingest(tmp_path, snapshot=SNAP, warehouse=warehouse)
    assert result.tables["monthly_usage"].loaded == 2
    assert result.tables["monthly_usage"].quarantined == 4
    assert quarantine(warehouse) == [
        ("monthly_usage.csv", 3, "offnet_voice_share", "1.5", "above the maximum 1"),
        ("monthly_usage.csv", 3, "sms_count", "abc", "not a valid integer"),
        ("monthly_usage.csv", 4, "bill_month", "2026-13", "not a valid month"),
        (
            "monthly_usage.csv",
            5,
            "subscriber_id",
            "U999999",
            "unknown subscriber_id (not in the subscribers extract)",
        ),
        (
            "monthly_usage.csv",
            7,
            "subscriber_id,bill_month",
            "U000000|2026-10",
            "duplicate key (subscriber_id, bill_month) first at line 2",
        ),
    ]
    loaded = warehouse.execute("SELECT subscriber_id FROM monthly_usage ORDER BY 1")
    assert loaded == [("U000000",), ("U000004",)]


def test_allowed_values_patterns_and_required(tmp_path: Path, warehouse: Warehouse) -> None:
    subs = [f.subscriber(i) for i in range(4)]
    subs[0]["payment_type"] = "credit"
    subs[1]["msisdn"] = "12345"
    subs[2]["join_date"] = ""
    f.write_csv(tmp_path / "subscribers.csv", f.SUBSCRIBER_HEADER, subs)
    ingest(tmp_path, snapshot=SNAP, warehouse=warehouse)
    reasons = {(line, col): reason for _, line, col, _, reason in quarantine(warehouse)}
    assert reasons == {
        (2, "payment_type"): "not an allowed value (prepaid, postpaid)",
        (3, "msisdn"): "does not match ^1[3-9][0-9]{9}$",
        (4, "join_date"): "required value missing",
    }
    assert warehouse.execute("SELECT subscriber_id FROM subscribers") == [("U000003",)]


def test_same_extract_twice_changes_nothing(tmp_path: Path, warehouse: Warehouse) -> None:
    f.delivery(tmp_path)
    ingest(tmp_path, snapshot=SNAP, warehouse=warehouse)
    before = dump(warehouse)
    loaded_at = warehouse.execute("SELECT loaded_at FROM ingest_log ORDER BY table_name")
    again = ingest(tmp_path, snapshot=SNAP, warehouse=warehouse)
    assert all(r.unchanged for r in again.tables.values())
    assert again.tables["monthly_usage"].loaded == 40
    assert dump(warehouse) == before
    assert warehouse.execute("SELECT loaded_at FROM ingest_log ORDER BY table_name") == loaded_at


def test_corrected_redelivery_replaces_the_snapshot(tmp_path: Path, warehouse: Warehouse) -> None:
    f.delivery(tmp_path, subscribers=10)
    ingest(tmp_path, snapshot=SNAP, warehouse=warehouse)
    ingest(tmp_path, snapshot=date(2026, 11, 30), warehouse=warehouse)  # a later delivery stays
    f.write_csv(
        tmp_path / "monthly_usage.csv",
        f.USAGE_HEADER,
        [f.usage(i, "2026-10") for i in range(3)],
    )
    result = ingest(tmp_path, snapshot=SNAP, warehouse=warehouse)
    assert result.tables["subscribers"].unchanged
    assert not result.tables["monthly_usage"].unchanged
    counts = warehouse.execute(
        "SELECT _snapshot, count(*) FROM monthly_usage GROUP BY 1 ORDER BY 1"
    )
    assert counts == [(SNAP, 3), (date(2026, 11, 30), 20)]
    current = warehouse.current("monthly_usage", SNAP).count().execute()
    assert current == 3


def test_missing_required_column_fails_the_delivery_and_keeps_the_warehouse(
    tmp_path: Path, warehouse: Warehouse
) -> None:
    f.delivery(tmp_path, subscribers=10)
    ingest(tmp_path, snapshot=SNAP, warehouse=warehouse)
    before = dump(warehouse)
    f.write_csv(
        tmp_path / "subscribers.csv", f.SUBSCRIBER_HEADER, [f.subscriber(i) for i in range(12)]
    )
    header = [h for h in f.USAGE_HEADER if h != "bill_amount"]
    f.write_csv(tmp_path / "monthly_usage.csv", header, [f.usage(i, "2026-10") for i in range(12)])
    with pytest.raises(ContractError) as err:
        ingest(tmp_path, snapshot=SNAP, warehouse=warehouse)
    assert err.value.file == "monthly_usage.csv"
    assert err.value.column == "bill_amount"
    assert "monthly_usage.csv" in str(err.value) and "bill_amount" in str(err.value)
    assert dump(warehouse) == before  # subscribers.csv was fine but is not half-loaded


def test_wrong_encoding_fails_with_the_file_named(tmp_path: Path, warehouse: Warehouse) -> None:
    subs = [f.subscriber(i) for i in range(3)]
    f.write_csv(tmp_path / "subscribers.csv", f.SUBSCRIBER_HEADER, subs, encoding="gbk")
    mapping = Mapping.model_validate({"defaults": {"encoding": "utf-8"}})
    with pytest.raises(ContractError, match=r"subscribers\.csv.*wrong encoding"):
        ingest(tmp_path, snapshot=SNAP, warehouse=warehouse, mapping=mapping)
    (tmp_path / "subscribers.csv").write_bytes(b"subscriber_id\n\x80\xff\xfe\x81\xff\n")
    with pytest.raises(ContractError, match=r"subscribers\.csv.*wrong encoding"):
        ingest(tmp_path, snapshot=SNAP, warehouse=warehouse)
    assert warehouse.execute("SELECT count(*) FROM ingest_log") == [(0,)]


def test_malformed_csv_records_are_quarantined_with_their_line(
    tmp_path: Path, warehouse: Warehouse
) -> None:
    f.delivery(tmp_path, subscribers=4, months=())
    lines = [",".join(f.USAGE_HEADER)]
    for i in range(4):
        lines.append(",".join(f.usage(i, "2026-10")[h] for h in f.USAGE_HEADER))
    lines[2] = "U000001,2026-10,12"  # too few fields
    (tmp_path / "monthly_usage.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = ingest(tmp_path, snapshot=SNAP, warehouse=warehouse)
    assert result.tables["monthly_usage"].loaded == 3
    assert quarantine(warehouse) == [
        ("monthly_usage.csv", 3, "*", "U000001,2026-10,12", "expected 16 fields, found 3")
    ]
    lines_loaded = warehouse.execute("SELECT subscriber_id, _line FROM monthly_usage ORDER BY 2")
    assert lines_loaded == [("U000000", 2), ("U000002", 4), ("U000003", 5)]


def test_gbk_tab_file_with_chinese_headers_through_a_mapping(
    tmp_path: Path, warehouse: Warehouse
) -> None:
    zh = {
        "subscriber_id": "用户标识",
        "msisdn": "手机号码",
        "customer_id": "客户标识",
        "payment_type": "付费类型",
        "join_date": "入网日期",
        "star_level": "客户星级",
    }
    header = [zh.get(h, h) for h in f.SUBSCRIBER_HEADER]
    rows = []
    for i in range(6):
        row = f.subscriber(i)
        row["payment_type"] = "预付费" if row["payment_type"] == "prepaid" else "后付费"
        row["join_date"] = "20190601"
        rows.append({zh.get(k, k): v for k, v in row.items()})
    rows[5][zh["payment_type"]] = "月租卡"  # an operator code the mapping does not know
    f.write_csv(tmp_path / "用户资料_202610.txt", header, rows, encoding="gbk", delimiter="\t")
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text(
        """
tables:
  subscribers:
    file: "用户资料_*.txt"
    encoding: gbk
    columns: {用户标识: subscriber_id, 手机号码: msisdn, 客户标识: customer_id,
              付费类型: payment_type, 入网日期: join_date}
    values: {payment_type: {预付费: prepaid, 后付费: postpaid}}
    formats: {join_date: "%Y%m%d"}
""",
        encoding="utf-8",
    )
    from weiwan.analytics.mapping import load_mapping

    result = ingest(
        tmp_path, snapshot=SNAP, warehouse=warehouse, mapping=load_mapping(mapping_file)
    )
    assert result.tables["subscribers"].loaded == 5
    assert quarantine(warehouse) == [
        (
            "用户资料_202610.txt",
            7,
            "payment_type",
            "月租卡",
            "not an allowed value (prepaid, postpaid)",
        )
    ]
    assert warehouse.execute(
        'SELECT payment_type, join_date, name, "客户星级" FROM subscribers '
        "WHERE subscriber_id = 'U000001'"
    ) == [("postpaid", date(2019, 6, 1), "张伟", 2)]


def test_parquet_extract_with_typed_columns(tmp_path: Path, warehouse: Warehouse) -> None:
    f.delivery(tmp_path, subscribers=3, months=())
    (tmp_path / "monthly_usage.csv").unlink()
    usage = {h: [f.usage(i, "2026-10")[h] for i in range(3)] for h in f.USAGE_HEADER}
    typed: dict[str, Any] = {k: pa.array(v) for k, v in usage.items()}
    typed["bill_amount"] = pa.array([10.0, -1.0, 30.0])
    typed["sms_count"] = pa.array([1, 2, 3], pa.int32())
    pq.write_table(pa.table(typed), tmp_path / "monthly_usage.parquet")
    result = ingest(tmp_path, snapshot=SNAP, warehouse=warehouse)
    assert result.tables["monthly_usage"].loaded == 2
    assert quarantine(warehouse) == [
        ("monthly_usage.parquet", 2, "bill_amount", "-1.0", "below the minimum 0")
    ]


def test_extra_attribute_columns_are_kept_typed(tmp_path: Path, warehouse: Warehouse) -> None:
    header = [*f.SUBSCRIBER_HEADER, "broadband_bundle", "segment_code"]
    rows = [
        {**f.subscriber(i), "broadband_bundle": "Y" if i % 2 else "N", "segment_code": f"A{i}"}
        for i in range(4)
    ]
    f.write_csv(tmp_path / "subscribers.csv", header, rows)
    ingest(tmp_path, snapshot=SNAP, warehouse=warehouse)
    assert warehouse.extra_columns("subscribers") == {
        "broadband_bundle": "boolean",
        "segment_code": "string",
        "star_level": "int64",
    }
    rows2 = [{**r, "star_level": "high"} for r in rows[:1]]  # later delivery breaks the type
    f.write_csv(tmp_path / "subscribers.csv", header, rows2)
    ingest(tmp_path, snapshot=date(2026, 11, 30), warehouse=warehouse)
    assert [q[2:] for q in quarantine(warehouse)] == [("star_level", "high", "not a valid integer")]


def test_unknown_columns_elsewhere_are_ignored_and_reported(
    tmp_path: Path, warehouse: Warehouse
) -> None:
    f.delivery(tmp_path, subscribers=2, months=())
    header = [*f.USAGE_HEADER, "备注"]
    f.write_csv(tmp_path / "monthly_usage.csv", header, [{**f.usage(0, "202610"), "备注": "x"}])
    result = ingest(tmp_path, snapshot=SNAP, warehouse=warehouse)
    assert result.tables["monthly_usage"].ignored_columns == ["备注"]
    assert warehouse.execute("SELECT bill_month FROM monthly_usage") == [(date(2026, 10, 1),)]


def test_usage_without_any_subscribers_fails_clearly(tmp_path: Path, warehouse: Warehouse) -> None:
    f.write_csv(tmp_path / "monthly_usage.csv", f.USAGE_HEADER, [f.usage(0, "2026-10")])
    with pytest.raises(ContractError, match=r"monthly_usage\.csv.*no subscribers extract"):
        ingest(tmp_path, snapshot=SNAP, warehouse=warehouse)


def test_cli_json_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from weiwan.cli import app
    from weiwan.core.settings import get_settings

    monkeypatch.setenv("WEIWAN_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    f.delivery(tmp_path / "d", subscribers=5)
    runner = CliRunner()
    res = runner.invoke(app, ["ingest", str(tmp_path / "d"), "--snapshot", "2026-10-31", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["tables"]["subscribers"]["loaded"] == 5
    assert summary["tables"]["monthly_usage"] == {
        "file": "monthly_usage.csv",
        "rows": 10,
        "loaded": 10,
        "quarantined": 0,
        "quarantined_share": 0.0,
        "unchanged": False,
        "ignored_columns": [],
        "not_delivered": [],
        "quarantine": {},
    }
    (tmp_path / "d" / "subscribers.csv").write_text("subscriber_id\nU1\n", encoding="utf-8")
    res = runner.invoke(app, ["ingest", str(tmp_path / "d"), "--snapshot", "2026-10-31", "--json"])
    assert res.exit_code == 1
    assert "required column missing" in json.loads(res.stdout)["error"]
    get_settings.cache_clear()


def test_a_mapping_change_for_one_table_reloads_only_that_table(
    tmp_path: Path, warehouse: Warehouse
) -> None:
    from weiwan.analytics.mapping import load_mapping

    f.delivery(tmp_path / "d", subscribers=6)
    path = tmp_path / "mapping.yaml"
    path.write_text("tables: {subscribers: {values: {gender: {男: M}}}}", encoding="utf-8")
    ingest(tmp_path / "d", snapshot=SNAP, warehouse=warehouse, mapping=load_mapping(path))
    path.write_text("tables: {subscribers: {values: {gender: {男: M, 女: F}}}}", encoding="utf-8")
    again = ingest(tmp_path / "d", snapshot=SNAP, warehouse=warehouse, mapping=load_mapping(path))
    assert not again.tables["subscribers"].unchanged
    assert again.tables["monthly_usage"].unchanged
