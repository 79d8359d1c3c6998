"""Warehouse.map_batches: a Python function over a table in bounded batches, stored back."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from weiwan.analytics.warehouse import Warehouse

SCHEMA = pa.schema([("id", pa.int64()), ("snapshot_date", pa.date32()), ("twice", pa.float64())])


def _rows(warehouse: Warehouse, n: int) -> None:
    warehouse.execute(
        "CREATE TABLE numbers AS SELECT range AS id, DATE '2026-10-31' AS snapshot_date, "
        f"range / 3 AS x FROM range({n})"
    )


def test_batches_are_bounded_and_the_results_stored(warehouse: Warehouse) -> None:
    _rows(warehouse, 50)
    sizes: list[int] = []

    def double(batch: pa.RecordBatch) -> pa.RecordBatch:
        sizes.append(batch.num_rows)
        twice = pc.multiply(batch["x"], 2.0)
        columns = [batch["id"], batch["snapshot_date"], twice]
        return pa.RecordBatch.from_arrays(columns, schema=SCHEMA)

    mapped = warehouse.map_batches(warehouse.table("numbers"), double, SCHEMA, batch_rows=7)
    assert sum(sizes) == 50 and max(sizes) <= 7 and len(sizes) >= 8
    stored = warehouse.replace_snapshot("doubled", mapped, date(2026, 10, 31))
    assert stored == 50
    rows = warehouse.execute("SELECT id, twice FROM doubled ORDER BY id")
    assert rows == [(i, i / 3 * 2) for i in range(50)]
    # the batch results are dropped once stored
    tables = warehouse.execute("SELECT table_name FROM information_schema.tables")
    assert not [name for (name,) in tables if name.startswith("_mapped_")]


def test_an_expression_with_memtables_and_an_empty_input(warehouse: Warehouse) -> None:
    rows = ibis.memtable({"id": [1, 2, 3], "x": [0.5, 1.0, 1.5]})
    rows = rows.mutate(snapshot_date=ibis.literal(date(2026, 10, 31))).filter(rows.id > 3)

    def never(batch: pa.RecordBatch) -> pa.RecordBatch:
        raise AssertionError("no batch to map")

    mapped = warehouse.map_batches(rows.select("id", "snapshot_date", "x"), never, SCHEMA)
    assert mapped.count().execute() == 0
    assert mapped.schema().to_pyarrow() == SCHEMA


def test_a_function_returning_the_wrong_schema_is_refused(warehouse: Warehouse) -> None:
    _rows(warehouse, 3)
    with pytest.raises(ValueError, match="not id"):
        warehouse.map_batches(warehouse.table("numbers"), lambda batch: batch, SCHEMA)


def test_results_left_by_a_crash_are_dropped_when_reopened(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with Warehouse(path) as first:
        _rows(first, 3)
        first.execute("CREATE TABLE _mapped_deadbeef AS SELECT 1 AS one")
        first._mapped.clear()  # as if the process died before storing
    with Warehouse(path) as again:
        assert not again.has_table("_mapped_deadbeef")


def test_a_step_reading_its_own_table_sees_it_as_it_was(warehouse: Warehouse) -> None:
    """Rows are inserted straight from their query, except a query that reads the table it
    replaces: that one is computed first, so it sees the day's old rows it replaces."""
    day, before = date(2026, 10, 31), date(2026, 10, 30)
    first = ibis.memtable(
        pa.table({"k": [1, 2, 3], "v": [10, 20, 30], "snapshot_date": [before, day, day]})
    )
    assert warehouse.replace_table("t", first) == 3
    table = warehouse.table("t")
    doubled = table.select("k", v=table.v * 2, snapshot_date=ibis.literal(day))
    assert warehouse.replace_snapshot("t", doubled, day) == 3  # read all three rows first
    rows = warehouse.table("t").order_by(["snapshot_date", "k"]).to_pyarrow().to_pylist()
    assert [(r["k"], r["v"], r["snapshot_date"]) for r in rows] == [
        (1, 10, before),
        (1, 20, day),
        (2, 40, day),
        (3, 60, day),
    ]
    table = warehouse.table("t")
    assert warehouse.replace_table("t", table.filter(table.v > 15)) == 3
    assert sorted(warehouse.table("t").v.to_pyarrow().to_pylist()) == [20, 40, 60]
    parts = [ibis.memtable(pa.table({"k": [k], "v": [k], "snapshot_date": [day]})) for k in (7, 8)]
    assert warehouse.replace_snapshot_parts("t", parts, day) == 2
    assert sorted(warehouse.table("t").k.to_pyarrow().to_pylist()) == [7, 8]
