"""The whole daily run on Spark (local[2]) gives the tables and decisions DuckDB gives.

One small simulated operator is ingested into DuckDB, a model trained on it quickly and
promoted (tests/model_fixtures.py), the day run there, copied into a Spark store as ``weiwan
ingest`` does with WEIWAN_ENGINE=spark, and run again on Spark with the same promoted model.
Every step's table of the day is compared: expression results to rtol 1e-9; what a fitted
model gives (CLV's tenure model, scores, drift, and what reads them) to rtol 1e-6.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, cast

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from model_fixtures import promote_quick_model
from weiwan.analytics.churn.labels import labelled_snapshots
from weiwan.analytics.churn.leaving_reasons import recorded_reasons
from weiwan.analytics.churn.registry import ModelRegistry
from weiwan.analytics.churn.training import TrainingConfig, draw_sample, snapshot_frame
from weiwan.analytics.contract import TABLES
from weiwan.analytics.decide.allocation import LIMIT_PRICES
from weiwan.analytics.features import FLOAT_DIGITS, compute_features
from weiwan.analytics.ingest import ingest
from weiwan.analytics.mapping import load_mapping
from weiwan.analytics.period_reports import first_churn
from weiwan.analytics.report_inputs import input_fingerprints
from weiwan.analytics.spark_store import SparkWarehouse
from weiwan.analytics.uplift import UPLIFT_LEVELS
from weiwan.analytics.warehouse import SNAPSHOT, Warehouse
from weiwan.cli import app
from weiwan.core.db import make_engine
from weiwan.core.errors import WeiwanError
from weiwan.core.settings import get_settings
from weiwan.pipeline.publish import publish
from weiwan.pipeline.publish.reports import due_periods
from weiwan.pipeline.run import STEPS, PipelineResult, run_pipeline
from weiwan.sim import simulate

pytest.importorskip("pyspark.sql")

DAY = date(2026, 10, 31)
EXPRESSION_RTOL = 1e-9
MODEL_RTOL = 1e-6
#: steps whose figures come from a fitted model (or read its figures)
MODEL_STEPS = {"clv", "scores", "drift", "profile", "decisions", "alerts", "anomalies"}
#: the columns that identify a row of each step's table
KEYS = {
    "drift": ["feature"],
    # a subscriber may have a retention and a care row: the key is both
    "decisions": ["subscriber_id", "trigger_kind"],
    "target_groups": ["group_id", "subscriber_id"],
    "alerts": ["subscriber_id", "rule_id", "period_key"],
    "anomalies": ["subscriber_id", "rule_id", "period_key"],
    LIMIT_PRICES: ["limit_kind", "limit_name"],
    UPLIFT_LEVELS: ["offer_type"],
    "strategy_arms": ["arm"],
}


@dataclass
class Runs:
    duckdb: Warehouse
    spark: SparkWarehouse
    on_duckdb: PipelineResult
    on_spark: PipelineResult


@pytest.fixture(scope="module")
def runs(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("parity")
    simulate(subscribers=3000, months=8, seed=3, out=root / "sim", end_month="2026-10")
    registry = ModelRegistry(root / "models")
    # the settings' DuckDB configuration, so the commands may open the same file meanwhile
    with Warehouse(root / "wh.duckdb", threads=2, memory_limit="2GB") as duck:
        ingest(root / "sim", snapshot=DAY, warehouse=duck)
        promote_quick_model(duck, registry)
        on_duckdb = run_pipeline(duck, DAY, registry=registry)
        store = SparkWarehouse(spark, str(root / "spark"))
        copied = store.load_delivery(duck, DAY)
        assert copied["subscribers"] > 2500
        on_spark = run_pipeline(store, DAY, registry=registry)
        yield Runs(duck, store, on_duckdb, on_spark)


def _day(store: Any, name: str) -> pd.DataFrame:
    rows = store.table(name)
    frame: pd.DataFrame = rows.filter(rows.snapshot_date == DAY).to_pandas()
    keys = KEYS.get(name, ["subscriber_id"])
    return frame.sort_values(keys).reset_index(drop=True)


def _assert_same(name: str, on_spark: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert sorted(on_spark.columns) == sorted(expected.columns), name
    on_spark = on_spark[list(expected.columns)]
    rtol = MODEL_RTOL if name in MODEL_STEPS else EXPRESSION_RTOL
    for column in expected.columns:
        left, right = on_spark[column], expected[column]
        if pd.api.types.is_float_dtype(right) or pd.api.types.is_float_dtype(left):
            np.testing.assert_allclose(
                left.to_numpy(float), right.to_numpy(float), rtol=rtol, atol=1e-12,
                equal_nan=True, err_msg=f"{name}.{column}",
            )  # fmt: skip
        elif column == "evidence":  # JSON of the figures a rule fired on: floats within rtol
            for got, want in zip(left, right, strict=True):
                _assert_same_evidence(got, want, rtol, f"{name}.{column}")
        else:
            assert _values(left) == _values(right), f"{name}.{column}"


def _values(column: pd.Series) -> list[Any]:
    return [None if pd.isna(value) else value for value in column.astype(object)]


def _assert_same_evidence(got: str | None, want: str | None, rtol: float, where: str) -> None:
    if want is None or got is None:
        assert got is want, where
        return
    got_items, want_items = json.loads(got), json.loads(want)
    assert list(got_items) == list(want_items), where
    for key, value in want_items.items():
        if isinstance(value, float):
            assert got_items[key] == pytest.approx(value, rel=rtol), f"{where}.{key}"
        else:
            assert got_items[key] == value, f"{where}.{key}"


def test_every_step_writes_the_same_number_of_rows(runs: Runs) -> None:
    assert list(runs.on_spark.rows) == [name for name, _ in STEPS]
    assert runs.on_spark.rows == runs.on_duckdb.rows
    assert runs.on_spark.warnings == runs.on_duckdb.warnings == []
    assert runs.on_duckdb.rows["scores"] > 2500 and runs.on_duckdb.rows["decisions"] > 100


@pytest.mark.parametrize("name", [name for name, _ in STEPS])
def test_every_step_gives_the_same_table(runs: Runs, name: str) -> None:
    # none stored: no limit bound that day, nothing learned from outcomes
    if name in (LIMIT_PRICES, UPLIFT_LEVELS) and not runs.duckdb.has_table(name):
        assert runs.on_duckdb.rows[name] == runs.on_spark.rows[name] == 0
        return
    expected = _day(runs.duckdb, name)
    assert len(expected) > 0 or name in (LIMIT_PRICES, UPLIFT_LEVELS), name
    _assert_same(name, _day(runs.spark, name), expected)


def test_the_same_decisions(runs: Runs) -> None:
    columns = ["subscriber_id", "trigger_kind", "action", "policy_id", "channel"]
    expected = _day(runs.duckdb, "decisions")[columns]
    on_spark = _day(runs.spark, "decisions")[columns]
    assert expected["action"].sum() > 50
    pd.testing.assert_frame_equal(on_spark, expected, check_dtype=False)


def test_rerunning_a_day_on_spark_replaces_its_partition(runs: Runs) -> None:
    store = runs.spark
    rows = store.table("segments")
    day = rows.filter(rows.snapshot_date == DAY)
    before = int(day.count().execute())
    store.replace_snapshot("segments", day.mutate(extra_flag=ibis.literal(True)), DAY)
    after = store.table("segments")
    assert int(after.filter(after.snapshot_date == DAY).count().execute()) == before
    assert "extra_flag" in after.columns  # a new column joins the stored table


def test_a_failed_write_leaves_the_stored_day_as_it_was(runs: Runs) -> None:
    store = runs.spark
    stored = _day(store, "tags")
    rows = store.table("tags")
    broken = rows.filter(rows.snapshot_date == DAY).mutate(
        subscriber_id=rows.subscriber_id.cast("int64").cast("string")  # not a number: fails
    )
    spark_conf = store.session.conf
    ansi = spark_conf.get("spark.sql.ansi.enabled")
    spark_conf.set("spark.sql.ansi.enabled", "true")  # a bad cast fails (Spark 4's default)
    try:
        with pytest.raises(Exception, match=r"(?i)cast"):
            store.replace_snapshot("tags", broken, DAY)
    finally:
        spark_conf.set("spark.sql.ansi.enabled", ansi)
    pd.testing.assert_frame_equal(_day(store, "tags"), stored)


def test_map_batches_runs_the_function_in_bounded_batches(runs: Runs) -> None:
    store = runs.spark
    features = store.table("features")
    rows = features.filter(features.snapshot_date == DAY).select("subscriber_id", "arpu_1m")
    schema = pa.schema([("subscriber_id", pa.string()), ("arpu_x2", pa.float64()),
                        ("batch_rows", pa.int64())])  # fmt: skip

    def double(batch: pa.RecordBatch) -> pa.RecordBatch:
        arpu = batch.column("arpu_1m").to_numpy(zero_copy_only=False)
        sizes = np.full(batch.num_rows, batch.num_rows, dtype=np.int64)
        return pa.RecordBatch.from_arrays(
            [batch.column("subscriber_id"), pa.array(arpu * 2), pa.array(sizes)], schema=schema
        )

    mapped = store.map_batches(rows, double, schema, batch_rows=500).to_pandas()
    expected = rows.to_pandas()
    joined = expected.merge(mapped, on="subscriber_id")
    assert len(joined) == len(expected) > 2500
    np.testing.assert_allclose(joined["arpu_x2"], joined["arpu_1m"] * 2)
    assert joined["batch_rows"].max() == 500


@pytest.mark.parametrize(
    "command",
    [
        ["targets", "groups"],
        ["scores", "export"],
        ["report", "period", "--month", "2026-09", "--lang", "en"],
    ],
)
def test_commands_read_the_same_from_either_engine(
    runs: Runs, command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEIWAN_WAREHOUSE_PATH", str(runs.duckdb.path))
    monkeypatch.setenv("WEIWAN_THREADS", "2")
    monkeypatch.setenv("WEIWAN_MEMORY_LIMIT", "2GB")
    monkeypatch.setenv("WEIWAN_SPARK_WAREHOUSE", runs.spark.root)
    monkeypatch.setenv("WEIWAN_SPARK_MASTER", "local[2]")
    outputs = []
    for engine in ("duckdb", "spark"):
        monkeypatch.setenv("WEIWAN_ENGINE", engine)
        if engine == "spark":  # the Spark store alone: no DuckDB file to fall back on
            monkeypatch.setenv("WEIWAN_WAREHOUSE_PATH", str(tmp_path / "unused.duckdb"))
        out = tmp_path / f"{engine}.csv"
        args = [*command, "--snapshot", DAY.isoformat()]
        args += ["--out", str(out)] if command[1] == "export" else []
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(app, args)
        finally:
            get_settings.cache_clear()
        assert result.exit_code == 0, result.output
        outputs.append(out.read_text("utf-8") if out.exists() else result.stdout)
    assert any(char.isdigit() and char != "0" for char in outputs[0])
    assert not (tmp_path / "unused.duckdb").exists()
    # the same lines; the order of an export's rows is the engine's
    on_duckdb, on_spark = (sorted(text.splitlines()) for text in outputs)
    assert on_spark == on_duckdb


@pytest.mark.postgres
def test_publish_from_spark_gives_the_same_customer_view_and_decisions(
    runs: Runs, tmp_path: Path, postgres_url: str, _migrated_postgres: str
) -> None:
    """The Spark executors COPY the results into PostgreSQL (the customer view through the
    twin that is swapped in) as DuckDB's publish loads them."""
    published = []
    admin = make_engine(postgres_url).execution_options(isolation_level="AUTOCOMMIT")
    for label, store in (("duckdb", runs.duckdb), ("spark", runs.spark)):
        name = f"parity_{label}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{_migrated_postgres}"'))
        engine = make_engine(postgres_url.rsplit("/", 1)[0] + f"/{name}")
        try:
            kinds = ("customer_view", "decisions")
            result = publish(cast(Any, store), engine, DAY, kinds=kinds, home=tmp_path / label)
            assert result.rows["customer_view"] > 2500 and result.rows["decisions"] > 100
            with engine.connect() as conn:
                published.append(
                    {
                        table: pd.read_sql(sa.text(f"SELECT * FROM {table}"), conn)
                        .drop(columns=["id", "published_at"], errors="ignore")
                        .sort_values("subscriber_id", kind="stable")
                        .reset_index(drop=True)
                        for table in kinds
                    }
                )
        finally:
            engine.dispose()
    admin.dispose()
    on_duckdb, on_spark = published
    for table, expected in on_duckdb.items():
        assert len(expected) > 100, table
        _assert_same("profile", on_spark[table], expected)  # model figures: rtol 1e-6


def test_report_input_fingerprints_run_on_spark(runs: Runs) -> None:
    """The report publish's fingerprints of its inputs (row hashes summed per day) run on
    Spark, whose hash is a 32-bit int (ANSI mode refuses an overflow), and are stable."""
    due = due_periods(DAY, 2, 2, first_churn(runs.spark, DAY))
    assert due
    first = input_fingerprints(runs.spark, DAY, due, {"targets": None})
    assert input_fingerprints(runs.spark, DAY, due, {"targets": None}) == first
    assert len(set(first.values())) == len(due)  # each report's own inputs
    assert input_fingerprints(runs.duckdb, DAY, due, {"targets": None}).keys() == first.keys()


def test_training_draws_the_same_stratified_sample_on_spark(runs: Runs) -> None:
    """The same subscribers (by the MD5 of their ids, stratified by the label) and the same
    features of them on both engines; only the sample is collected."""
    config = TrainingConfig()
    day = labelled_snapshots(DAY, horizon_months=1, count=1)[0]
    on_duckdb = draw_sample(runs.duckdb, day, config, 1000)
    on_spark = draw_sample(runs.spark, day, config, 1000)
    assert on_duckdb.labelled > 2500 and 1000 <= on_duckdb.rows.num_rows <= 1002
    assert on_duckdb.churners > 5
    assert on_spark.rows.to_pylist() == on_duckdb.rows.to_pylist()
    assert on_spark.labelled == on_duckdb.labelled
    assert on_spark.labelled_churners == on_duckdb.labelled_churners
    expected = snapshot_frame(runs.duckdb, day, config, sample=on_duckdb)
    assert len(expected) == on_duckdb.rows.num_rows
    on_spark_frame = snapshot_frame(runs.spark, day, config, sample=on_spark)
    assert list(on_spark_frame.columns) == list(expected.columns)
    for column in expected.columns:
        left, right = on_spark_frame[column], expected[column]
        if pd.api.types.is_float_dtype(right):
            # features are rounded to FLOAT_DIGITS; a mean on a rounding boundary may land one
            # unit apart as the engines sum in different orders (measured: 1 value in 1 001)
            np.testing.assert_allclose(
                left.to_numpy(float), right.to_numpy(float), rtol=0,
                atol=1.5 * 10.0**-FLOAT_DIGITS, equal_nan=True, err_msg=column,
            )  # fmt: skip
        else:
            assert _values(left) == _values(right), column


def test_the_recorded_leaving_reasons_are_the_same_on_spark(runs: Runs) -> None:
    """The churners' recorded reasons the leaving-reason model learns from (its query runs in
    the store): the same codes for the same rows on both engines."""
    config = TrainingConfig()
    day = labelled_snapshots(DAY, horizon_months=1, count=1)[0]
    rows = draw_sample(runs.duckdb, day, config, 1000).rows.to_pandas()
    churners = rows[rows["churned"]].assign(snapshot_date=day)
    on_duckdb = recorded_reasons(runs.duckdb, churners, config.horizon_months, DAY)
    on_spark = recorded_reasons(runs.spark, churners, config.horizon_months, DAY)
    assert on_duckdb.notna().sum() > 3
    assert on_spark.tolist() == on_duckdb.tolist()


@pytest.fixture(scope="module")
def operator_dw(runs: Runs, spark: Any) -> str:
    """The operator's Hive database: every contract table (contract columns and ``_snapshot``)
    as a Hive table, written once through the embedded metastore."""
    spark.sql("CREATE DATABASE IF NOT EXISTS operator_dw")
    for name in (t.name for t in TABLES):
        arrow = runs.duckdb.table(name).to_pyarrow()
        frame = spark.createDataFrame(arrow)
        frame.write.mode("overwrite").saveAsTable(f"operator_dw.{name}")
    return "operator_dw"


def test_contract_tables_read_from_hive(runs: Runs, operator_dw: str) -> None:
    """An operator's existing Hive tables (contract columns and ``_snapshot``) are read in
    place through the metastore: the features equal DuckDB's."""
    hive = SparkWarehouse(runs.spark.session, runs.spark.root + "-hive", hive_database=operator_dw)
    assert hive.has_table("subscribers") and not hive.has_table("features")
    assert hive.table("subscribers")[SNAPSHOT].max().execute() is not None
    expected = compute_features(runs.duckdb, DAY).to_pandas().sort_values("subscriber_id")
    on_hive = compute_features(hive, DAY).to_pandas().sort_values("subscriber_id")
    _assert_same("features", on_hive.reset_index(drop=True), expected.reset_index(drop=True))


#: the operator's own column names (own -> contract) in the Hive views of the mapping test
OWN_NAMES = {
    "subscribers": {"user_id": "subscriber_id", "pay_kind": "payment_type"},
    "monthly_usage": {"user_id": "subscriber_id", "fee": "bill_amount"},
}
MAPPING = """
tables:
  subscribers:
    columns: {user_id: subscriber_id, pay_kind: payment_type}
    values: {payment_type: {PRE: prepaid, POST: postpaid}}
  monthly_usage:
    columns: {user_id: subscriber_id, fee: bill_amount}
"""


def _own_views(spark: Any, source: str, database: str) -> None:
    """Views over ``source`` with the operator's own column names and payment codes, and
    without the subscribers' (optional) name column."""
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {database}")
    for name in (t.name for t in TABLES):
        own = {contract: mine for mine, contract in OWN_NAMES.get(name, {}).items()}
        columns = []
        for column in spark.table(f"{source}.{name}").columns:
            value = f"`{column}`"
            if name == "subscribers" and column == "payment_type":
                value = "CASE payment_type WHEN 'prepaid' THEN 'PRE' ELSE 'POST' END"
            if not (name == "subscribers" and column == "name"):
                columns.append(f"{value} AS `{own.get(column, column)}`")
        spark.sql(
            f"CREATE OR REPLACE VIEW {database}.{name} AS "
            f"SELECT {', '.join(columns)} FROM {source}.{name}"
        )


def test_hive_tables_are_read_through_the_column_mapping(
    runs: Runs, operator_dw: str, tmp_path: Path
) -> None:
    """The operator's own names and codes, mapped by the column-mapping file as a projection
    of the Hive tables (nothing copied): the features equal DuckDB's; a mapped or required
    column the table lacks is an error naming the table and the column."""
    spark = runs.spark.session
    _own_views(spark, operator_dw, "operator_own")
    path = tmp_path / "mapping.yaml"
    path.write_text(MAPPING, encoding="utf-8")
    root = runs.spark.root + "-own"
    hive = SparkWarehouse(
        spark, root, hive_database="operator_own", hive_mapping=load_mapping(path)
    )
    subscribers = hive.table("subscribers")
    assert "user_id" not in subscribers.columns and "name" in subscribers.columns
    expected = compute_features(runs.duckdb, DAY).to_pandas().sort_values("subscriber_id")
    assert set(expected["payment_type"]) == {"prepaid", "postpaid"}
    on_hive = compute_features(hive, DAY).to_pandas().sort_values("subscriber_id")
    _assert_same("features", on_hive.reset_index(drop=True), expected.reset_index(drop=True))

    unmapped = SparkWarehouse(spark, root, hive_database="operator_own")
    with pytest.raises(WeiwanError, match=r"operator_own\.subscribers.*'subscriber_id'"):
        unmapped.table("subscribers")
    path.write_text(MAPPING.replace("pay_kind:", "payment_kind:"), encoding="utf-8")
    wrong = SparkWarehouse(
        spark, root, hive_database="operator_own", hive_mapping=load_mapping(path)
    )
    with pytest.raises(WeiwanError, match=r"operator_own\.subscribers.*'payment_kind'"):
        wrong.table("subscribers")
