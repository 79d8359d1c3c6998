"""The same feature expressions on Spark (local[2]) give exactly what DuckDB gives."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from weiwan.analytics.features import compute_features
from weiwan.analytics.ingest import ingest
from weiwan.analytics.spark import SparkSource, export_warehouse
from weiwan.analytics.warehouse import Warehouse
from weiwan.sim import simulate

pytest.importorskip("pyspark.sql")


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("subscriber_id").reset_index(drop=True)


@pytest.mark.parametrize("snapshot", [date(2026, 10, 31), date(2026, 8, 15)])
def test_features_on_spark_equal_duckdb(spark: Any, tmp_path: Path, snapshot: date) -> None:
    simulate(subscribers=600, months=6, seed=21, out=tmp_path / "sim", end_month="2026-10")
    wh = Warehouse(tmp_path / "wh.duckdb", threads=2)
    try:
        ingest(tmp_path / "sim", snapshot=date(2026, 10, 31), warehouse=wh)
        expected = _sorted(compute_features(wh, snapshot).execute())
        export_warehouse(wh, tmp_path / "parquet")
    finally:
        wh.close()
    on_spark = _sorted(
        compute_features(SparkSource(spark, tmp_path / "parquet"), snapshot).execute()
    )
    assert len(expected) > 400
    assert list(on_spark.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(on_spark, expected, check_dtype=False, rtol=1e-9)


def test_files_written_before_a_contract_column_read_without_it(spark: Any, tmp_path: Path) -> None:
    """Parquet exported before ``dropped_calls`` joined the contract: Spark reads the column as
    never delivered (its features skipped, the rest as on DuckDB), not as an error."""
    import pyarrow.parquet as pq

    simulate(subscribers=300, months=4, seed=22, out=tmp_path / "sim", end_month="2026-10")
    with Warehouse(tmp_path / "wh.duckdb", threads=2) as wh:
        ingest(tmp_path / "sim", snapshot=date(2026, 10, 31), warehouse=wh)
        export_warehouse(wh, tmp_path / "parquet")
    usage = tmp_path / "parquet" / "monthly_usage.parquet"
    pq.write_table(pq.read_table(usage).drop_columns(["dropped_calls"]), usage)
    features = compute_features(SparkSource(spark, tmp_path / "parquet"), date(2026, 10, 31))
    frame = features.execute()
    assert len(frame) > 200
    assert frame["dropped_calls_3m"].isna().all()
    assert frame["competitor_calls_3m"].notna().all()
