"""An operator's first delivery: simulated extracts written as the operator's own export (GBK CSV,
Chinese headers, "35.2%", "1,234.56", null tokens, blanks for 0, a column not delivered) and
loaded through a mapping file that says so."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from structlog.testing import capture_logs

import factories as f
from weiwan.analytics.contract import TABLES_BY_NAME
from weiwan.analytics.features import compute_features
from weiwan.analytics.ingest import IngestResult, ingest
from weiwan.analytics.mapping import load_mapping
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.errors import ConfigError, ContractError
from weiwan.sim import simulate

SNAP = date(2026, 9, 30)
ZH_SUBS = {c.name: c.label_zh for c in TABLES_BY_NAME["subscribers"].columns}
ZH_USAGE = {c.name: c.label_zh for c in TABLES_BY_NAME["monthly_usage"].columns}
NOT_DELIVERED = "competitor_service_calls"


@dataclass
class Delivery:
    """The operator-shaped files and what the simulator meant by them."""

    directory: Path
    mapping_file: Path
    subscribers: list[dict[str, Any]]
    usage: list[dict[str, Any]]


def _mapping() -> dict[str, Any]:
    return {
        "defaults": {"encoding": "gbk", "null_values": ["NULL", "\\N"]},
        "tables": {
            "subscribers": {
                "file": "用户资料_*.csv",
                "null_values": ["NULL", "\\N"],
                "column_null_values": {"account_manager": ["-"]},
                "columns": {zh: name for name, zh in ZH_SUBS.items()},
            },
            "monthly_usage": {
                "file": "月度账单_*.csv",
                "columns": {zh: name for name, zh in ZH_USAGE.items() if name != NOT_DELIVERED},
                "numbers": {
                    "offnet_voice_share": {"percent": True},
                    "bill_amount": {"thousands": ","},
                    "recharge_amount": {"thousands": ","},
                },
                "blanks": {"sms_count": 0, "zero_usage_days": 0},
                "not_delivered": [NOT_DELIVERED],
            },
        },
    }


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def write_delivery(root: Path, mapping: dict[str, Any] | None = None) -> Delivery:
    """Simulate a small operator and write its subscribers and usage as the operator would."""
    sim = root / "sim"
    simulate(subscribers=120, months=3, seed=11, out=sim, end_month="2026-09")
    subs = pq.read_table(sim / "extracts" / "subscribers.parquet").to_pylist()
    usage = pq.read_table(sim / "extracts" / "monthly_usage.parquet").to_pylist()
    out = root / "delivery"
    out.mkdir()
    extras = [k for k in subs[0] if k not in ZH_SUBS]
    sub_rows = []
    for i, row in enumerate(subs):
        cells = {ZH_SUBS[k]: _text(v) for k, v in row.items() if k in ZH_SUBS}
        cells |= {k: _text(row[k]) for k in extras}
        # the operator's export writes its missing values three ways
        cells[ZH_SUBS["contract_end_date"]] = (
            "NULL" if i % 3 == 0 else cells[ZH_SUBS["contract_end_date"]]
        )
        cells[ZH_SUBS["device_model"]] = "\\N" if i % 3 == 1 else cells[ZH_SUBS["device_model"]]
        cells[ZH_SUBS["account_manager"]] = "-" if i % 3 == 2 else cells[ZH_SUBS["account_manager"]]
        sub_rows.append(cells)
    f.write_csv(out / "用户资料_202609.csv", [*ZH_SUBS.values(), *extras], sub_rows, encoding="gbk")
    usage_rows = []
    for i, row in enumerate(usage):
        cells = {ZH_USAGE[k]: _text(v) for k, v in row.items() if k != NOT_DELIVERED}
        cells[ZH_USAGE["offnet_voice_share"]] = f"{row['offnet_voice_share'] * 100:.1f}%"
        cells[ZH_USAGE["bill_amount"]] = f"{row['bill_amount'] * 1000:,.2f}"
        cells[ZH_USAGE["recharge_amount"]] = f"{row['recharge_amount']:,.2f}"
        if row["sms_count"] == 0 or i % 4 == 0:
            row["sms_count"] = 0
            cells[ZH_USAGE["sms_count"]] = ""
        if row["zero_usage_days"] == 0:
            cells[ZH_USAGE["zero_usage_days"]] = " "
        usage_rows.append(cells)
    header = [zh for name, zh in ZH_USAGE.items() if name != NOT_DELIVERED]
    f.write_csv(out / "月度账单_202609.csv", header, usage_rows, encoding="gbk")
    mapping_file = root / "mapping.yaml"
    mapping_file.write_text(
        yaml.safe_dump(mapping or _mapping(), allow_unicode=True), encoding="utf-8"
    )
    return Delivery(out, mapping_file, subs, usage)


@pytest.fixture
def delivery(tmp_path: Path) -> Delivery:
    return write_delivery(tmp_path)


def run(d: Delivery, wh: Warehouse) -> IngestResult:
    return ingest(d.directory, snapshot=SNAP, warehouse=wh, mapping=load_mapping(d.mapping_file))


def test_operator_export_loads_with_the_right_values(
    delivery: Delivery, warehouse: Warehouse
) -> None:
    result = run(delivery, warehouse)
    usage = result.tables["monthly_usage"]
    assert (usage.rows, usage.loaded, usage.quarantined) == (
        len(delivery.usage),
        len(delivery.usage),
        0,
    )
    assert usage.not_delivered == [NOT_DELIVERED]
    assert result.tables["subscribers"].quarantined == 0
    stored = {
        (r[0], r[1].strftime("%Y-%m")): r[2:]
        for r in warehouse.execute(
            "SELECT subscriber_id, bill_month, offnet_voice_share, bill_amount, recharge_amount, "
            f"sms_count, zero_usage_days, {NOT_DELIVERED} FROM monthly_usage"
        )
    }
    for row in delivery.usage:
        key = (row["subscriber_id"], row["bill_month"])
        share, bill, recharge, sms, zero_days, competitor = stored[key]
        assert share == pytest.approx(round(row["offnet_voice_share"] * 100, 1) / 100)
        assert bill == pytest.approx(round(row["bill_amount"] * 1000, 2))
        assert recharge == pytest.approx(round(row["recharge_amount"], 2))
        assert sms == row["sms_count"]
        assert zero_days == row["zero_usage_days"]
        assert competitor is None
    assert warehouse.execute(
        "SELECT count(*) FILTER (contract_end_date IS NULL), "
        "count(*) FILTER (device_model IS NULL), "
        "count(*) FILTER (account_manager IS NULL) FROM subscribers"
    ) == [
        (
            sum(
                1
                for i, r in enumerate(delivery.subscribers)
                if i % 3 == 0 or r["contract_end_date"] is None
            ),
            sum(
                1
                for i, r in enumerate(delivery.subscribers)
                if i % 3 == 1 or r["device_model"] is None
            ),
            sum(
                1
                for i, r in enumerate(delivery.subscribers)
                if i % 3 == 2 or r["account_manager"] is None
            ),
        )
    ]


def test_features_of_a_not_delivered_input_are_skipped_and_said_once(
    delivery: Delivery, warehouse: Warehouse
) -> None:
    run(delivery, warehouse)
    with capture_logs() as logs:
        features = compute_features(warehouse, SNAP).execute()
    assert len(features) > 0
    # unknown, not "no calls to competitors"
    assert features["competitor_calls_1m"].isna().all()
    assert features["competitor_calls_3m"].isna().all()
    assert features["sms_1m"].notna().any() and features["zero_usage_days_1m"].notna().all()
    skipped = [e for e in logs if e["event"] == "features.skipped"]
    assert len(skipped) == 1
    assert skipped[0]["not_delivered"] == [f"monthly_usage.{NOT_DELIVERED}"]
    assert skipped[0]["features"] == ["competitor_calls_1m", "competitor_calls_3m"]


def test_changing_one_tables_mapping_reloads_only_that_table(
    delivery: Delivery, warehouse: Warehouse
) -> None:
    run(delivery, warehouse)
    mapping = _mapping()
    mapping["tables"]["subscribers"]["values"] = {"gender": {"男": "M", "女": "F"}}
    # the same effective settings written another way change nothing for monthly_usage
    mapping["defaults"]["null_values"] = ["NULL"]
    mapping["tables"]["monthly_usage"]["null_values"] = ["NULL", "\\N"]
    mapping["tables"]["monthly_usage"]["encoding"] = "gbk"
    delivery.mapping_file.write_text(yaml.safe_dump(mapping, allow_unicode=True), "utf-8")
    again = run(delivery, warehouse)
    assert not again.tables["subscribers"].unchanged
    assert again.tables["monthly_usage"].unchanged
    assert again.tables["monthly_usage"].not_delivered == [NOT_DELIVERED]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'tables: {subscribers: {columns: {"": subscriber_id}}}',
            "tables.subscribers.columns: key '' can never match: it is empty",
        ),
        (
            "tables: {subscribers: {columns: {~: msisdn}}}",
            "tables.subscribers.columns: key None can never match: it is empty (null)",
        ),
        (
            "tables: {subscribers: {values: {gender: {yes: M}}}}",
            "tables.subscribers.values.gender: key True can never match: it was read by YAML",
        ),
        (
            "tables: {subscribers: {null_values: [NULL]}}",
            "tables.subscribers.null_values: None can never match a cell",
        ),
        (
            'defaults: {null_values: ["\\N"]}',
            "defaults.null_values: '\\x85' holds a control character",
        ),
        (
            "tables: {subscribers: {colums: {用户标识: subscriber_id}}}",
            "tables.subscribers.colums: unknown key (allowed keys: file, encoding, delimiter, "
            "null_values, columns, values, formats, numbers, column_null_values, blanks, "
            "not_delivered)",
        ),
        (
            "tables: {monthly_usage: {numbers: {bill_amount: {percnt: true}}}}",
            "tables.monthly_usage.numbers.bill_amount.percnt: unknown key (allowed keys: "
            "percent, thousands)",
        ),
        (
            "defaults: {encodng: gbk}",
            "defaults.encodng: unknown key (allowed keys: encoding, delimiter, null_values)",
        ),
        (
            "tables: {monthly_usage: {numbers: {bill_month: {thousands: ','}}}}",
            "numbers.bill_month: numbers apply to integer and decimal columns",
        ),
        (
            "tables: {monthly_usage: {numbers: {bill_amount: {percent: true}}}}",
            "numbers.bill_amount: percent applies to the ratio (0–1) columns only "
            "(offnet_voice_share): a percentage is stored as a ratio",
        ),
        (
            "tables: {monthly_usage: {not_delivered: [bill_amount]}}",
            "'bill_amount' is needed and must be delivered (may be not delivered: voice_minutes",
        ),
        (
            "tables: {monthly_usage: {blanks: {sms_count: none}}}",
            "tables.monthly_usage.blanks.sms_count: 'none' is not a valid integer",
        ),
    ],
)
def test_mapping_keys_that_can_never_match_are_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_mapping(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_missing_column_names_unmapped_headers_and_the_closest(
    tmp_path: Path, warehouse: Warehouse
) -> None:
    mapping = _mapping()
    columns = mapping["tables"]["monthly_usage"]["columns"]
    del columns[ZH_USAGE["bill_amount"]]
    columns["出帐金额"] = "bill_amount"  # 帐 for 账, and without "(ARPU)"
    d = write_delivery(tmp_path, mapping)
    with pytest.raises(ContractError) as err:
        run(d, warehouse)
    assert err.value.file == "月度账单_202609.csv"
    assert err.value.column == "bill_amount"
    assert str(err.value) == (
        "file 月度账单_202609.csv, column bill_amount: required column missing "
        "(出账金额(ARPU) / Bill amount (ARPU)); the mapping maps '出帐金额' to it, but the "
        "file has no such header; headers not mapped to the contract: '出账金额(ARPU)'; "
        "closest: '出账金额(ARPU)'"
    )
    assert warehouse.execute("SELECT count(*) FROM ingest_log") == [(0,)]


def test_a_not_delivered_column_the_file_has_is_refused(
    tmp_path: Path, warehouse: Warehouse
) -> None:
    mapping = _mapping()
    mapping["tables"]["monthly_usage"]["not_delivered"] = ["sms_count", NOT_DELIVERED]
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="not_delivered: 'sms_count' is also a target in columns"):
        load_mapping(path)
    f.delivery(tmp_path / "d", subscribers=3)  # the file has the contract's own header sms_count
    path.write_text("tables: {monthly_usage: {not_delivered: [sms_count]}}", encoding="utf-8")
    with pytest.raises(ContractError, match="declares 'sms_count' not_delivered, but the file"):
        ingest(tmp_path / "d", snapshot=SNAP, warehouse=warehouse, mapping=load_mapping(path))


@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from weiwan.core.settings import get_settings

    monkeypatch.setenv("WEIWAN_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _cli(d: Delivery, *extra: str) -> tuple[int, Any, str]:
    from typer.testing import CliRunner

    from weiwan.cli import app

    args = ["ingest", str(d.directory), "--snapshot", SNAP.isoformat(), "--mapping"]
    res = CliRunner().invoke(app, [*args, str(d.mapping_file), "--json", *extra])
    return res.exit_code, json.loads(res.stdout), res.stderr


def test_cli_json_reports_reasons_per_column_and_exits_3_over_the_share(
    cli_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapping = _mapping()
    del mapping["tables"]["monthly_usage"]["numbers"]["offnet_voice_share"]  # "35.2%" undeclared
    d = write_delivery(cli_home, mapping)
    code, summary, stderr = _cli(d)
    assert code == 3, stderr
    assert "more than 50% of the rows of monthly_usage were quarantined" in stderr
    usage = summary["tables"]["monthly_usage"]
    assert summary["over_max_quarantine_share"] == ["monthly_usage"]
    assert summary["max_quarantine_share"] == 0.5
    assert usage["quarantined"] == usage["rows"] == len(d.usage)
    first = d.usage[0]
    assert usage["quarantine"] == {
        "offnet_voice_share": [
            {
                "reason": "not a valid decimal: a percentage (declare "
                "numbers.offnet_voice_share.percent in the mapping)",
                "count": len(d.usage),
                "example": {"line": 2, "value": f"{first['offnet_voice_share'] * 100:.1f}%"},
            }
        ]
    }
    assert summary["tables"]["subscribers"]["quarantine"] == {}
    # the same delivery with a higher limit (option, then setting) loads and exits 0
    code, summary, _ = _cli(d, "--max-quarantine-share", "1")
    assert code == 0 and summary["tables"]["monthly_usage"]["unchanged"]
    monkeypatch.setenv("WEIWAN_INGEST_MAX_QUARANTINE_SHARE", "1")
    from weiwan.core.settings import get_settings

    get_settings.cache_clear()
    code, summary, _ = _cli(d)
    assert code == 0 and summary["over_max_quarantine_share"] == []


def test_cli_json_counts_each_reason_with_its_first_line(cli_home: Path) -> None:
    d = write_delivery(cli_home)
    path = d.directory / "月度账单_202609.csv"
    with path.open(encoding="gbk", newline="") as fh:
        rows = list(csv.reader(fh))
    bill = rows[0].index(ZH_USAGE["bill_amount"])
    rows[3][bill] = "NULL"  # a null token in a required column (line 4)
    rows[5][bill] = "\\N"
    with path.open("w", encoding="gbk", newline="") as fh:
        csv.writer(fh).writerows(rows)
    code, summary, _ = _cli(d)
    assert code == 0
    usage = summary["tables"]["monthly_usage"]
    assert usage["quarantined"] == 2
    assert usage["quarantine"] == {
        "bill_amount": [
            {
                "reason": "required value missing",
                "count": 2,
                "example": {"line": 4, "value": "NULL"},
            }
        ]
    }
