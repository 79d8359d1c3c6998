"""WEIWAN_ENGINE=spark: the settings, and ``weiwan ingest`` filling the Spark store."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from weiwan.analytics import spark_store
from weiwan.analytics.spark_session import parse_spark_conf
from weiwan.analytics.spark_store import SparkWarehouse
from weiwan.analytics.warehouse import Warehouse
from weiwan.cli import app
from weiwan.core.errors import WeiwanError
from weiwan.core.settings import Settings, get_settings
from weiwan.sim import simulate

DAY = date(2026, 10, 31)


def test_spark_conf_is_key_value_pairs() -> None:
    text = "spark.executor.memory=8g,\n spark.sql.shuffle.partitions = 400\n"
    assert parse_spark_conf(text) == {
        "spark.executor.memory": "8g",
        "spark.sql.shuffle.partitions": "400",
    }
    assert parse_spark_conf("") == {}
    with pytest.raises(WeiwanError, match=r"WEIWAN_SPARK_CONF: 'spark.executor.memory' is not"):
        parse_spark_conf("spark.sql.shuffle.partitions=4,spark.executor.memory")


def test_engine_settings(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert settings.engine == "duckdb" and settings.spark_master == "local[*]"
    assert settings.spark_warehouse_uri == str((tmp_path / "spark-warehouse").absolute())
    assert Settings(spark_warehouse="hdfs:///dw").spark_warehouse_uri == "hdfs:///dw"
    with pytest.raises(ValueError, match="engine"):
        Settings(engine="hive")


@pytest.fixture
def spark_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spark: Any) -> Iterator[Path]:
    monkeypatch.setenv("WEIWAN_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("WEIWAN_ENGINE", "spark")
    monkeypatch.setenv("WEIWAN_SPARK_MASTER", "local[2]")
    get_settings.cache_clear()
    try:
        yield tmp_path / "var"
    finally:
        get_settings.cache_clear()


def test_ingest_on_the_spark_engine_copies_the_checked_delivery(
    spark_env: Path, tmp_path: Path, spark: Any
) -> None:
    simulate(subscribers=300, months=3, seed=5, out=tmp_path / "sim", end_month="2026-10")
    args = ["ingest", str(tmp_path / "sim" / "extracts"), "--snapshot", DAY.isoformat()]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(app, args)  # re-ingesting a date replaces its partition
    assert again.exit_code == 0, again.output
    store = SparkWarehouse(spark, str(spark_env / "spark-warehouse"))
    with Warehouse(spark_env / "warehouse.duckdb") as checked:
        for name in ("subscribers", "monthly_usage", "churn_records"):
            expected = int(checked.table(name).count().execute())
            assert expected > 0, name
            assert int(store.table(name).count().execute()) == expected, name
    snapshots = store.table("subscribers")._snapshot.cast("string").value_counts().to_pandas()
    assert snapshots.iloc[:, 0].tolist() == [DAY.isoformat()]


@pytest.mark.parametrize(
    ("conf", "missing", "message"),
    [
        ("nonsense", False, "WEIWAN_SPARK_CONF: 'nonsense' is not key=value"),
        ("", True, "WEIWAN_ENGINE=spark needs PySpark and Java 17"),
    ],
)
def test_the_spark_engine_fails_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, conf: str, missing: bool, message: str
) -> None:
    monkeypatch.setenv("WEIWAN_HOME", str(tmp_path))
    monkeypatch.setenv("WEIWAN_ENGINE", "spark")
    monkeypatch.setenv("WEIWAN_SPARK_CONF", conf)
    if missing:  # as without the optional extra: the Spark store cannot be imported
        monkeypatch.setitem(sys.modules, "weiwan.analytics.spark_store", None)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["targets", "groups", "--snapshot", DAY.isoformat()])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    ("database", "mapping", "message"),
    [
        ("dw", "tables:\n  monthly_usage:\n    columns: {fee: bill_amout}\n", "'bill_amout'"),
        (None, "tables: {}\n", "set WEIWAN_SPARK_HIVE_DATABASE too"),
    ],
)
def test_a_bad_hive_mapping_is_refused_before_spark_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: str | None, mapping: str,
    message: str,
) -> None:  # fmt: skip
    path = tmp_path / "hive-mapping.yaml"
    path.write_text(mapping, encoding="utf-8")
    monkeypatch.setenv("WEIWAN_HOME", str(tmp_path))
    monkeypatch.setenv("WEIWAN_ENGINE", "spark")
    monkeypatch.setenv("WEIWAN_SPARK_HIVE_MAPPING", str(path))
    if database:
        monkeypatch.setenv("WEIWAN_SPARK_HIVE_DATABASE", database)
    started = []
    monkeypatch.setattr(spark_store, "spark_session", lambda settings: started.append(1))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["targets", "groups", "--snapshot", DAY.isoformat()])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    text = "".join(result.output.split())  # the console may wrap inside the (long) path
    assert "".join(message.split()) in text and path.name in text
    assert started == []


def test_the_hive_mapping_setting_reaches_the_store(tmp_path: Path, spark: Any) -> None:
    path = tmp_path / "hive-mapping.yaml"
    path.write_text("tables:\n  subscribers:\n    columns: {user_id: subscriber_id}\n", "utf-8")
    settings = Settings(
        home=tmp_path,
        engine="spark",
        spark_master="local[2]",
        spark_hive_database="dw",
        spark_hive_mapping=path,
    )
    store = SparkWarehouse.from_settings(settings)
    assert store.session is spark and store.hive_database == "dw"
    assert store.hive_mapping.for_table("subscribers").columns == {"user_id": "subscriber_id"}
