"""The Spark engine's publish into PostgreSQL: the executors COPY each partition into a staging
table that the driver moves into the target in one transaction (exactly once per partition,
whatever Spark re-runs), or the rows are streamed through the driver a partition at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest
import sqlalchemy as sa

from pg_helpers import pg_database
from weiwan.pipeline.publish.executors import PREFIX, load_from_executors
from weiwan.pipeline.publish.transport import load_staged

pytestmark = pytest.mark.postgres

ROWS = 5_000
#: text a CSV COPY could get wrong: quotes, separators, line breaks, non-ASCII, empty, NULL
NOTES = ['say "yes", then', "line\nbreak", "挽留，已接受", "", None, "plain"]


@pytest.fixture
def pg(postgres_url: str) -> Iterator[sa.Engine]:
    """A fresh PostgreSQL database with one target table ``things``."""
    with pg_database(postgres_url, "spark_publish", migrate=False) as engine:
        _things().create(engine)
        yield engine


def _things() -> sa.Table:
    return sa.Table(
        "things",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subscriber_id", sa.Text, nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("note", sa.Text),
    )


def _source() -> pa.Table:
    """ROWS rows, deliberately not in subscriber order."""
    ids = [f"S{(i * 7919) % ROWS:06d}" for i in range(ROWS)]
    return pa.table(
        {
            "subscriber_id": ids,
            "score": [None if i % 11 == 0 else i / 3 for i in range(ROWS)],
            "day": pa.array([date(2026, 10, 31)] * ROWS, pa.date32()),
            "note": [NOTES[i % len(NOTES)] for i in range(ROWS)],
        }
    )


def _published(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.text("SELECT subscriber_id, score, day, note FROM things ORDER BY id")
            )
        ]


def _expected() -> list[tuple[Any, ...]]:
    rows = _source().sort_by("subscriber_id").to_pylist()
    return [(r["subscriber_id"], r["score"], r["day"], r["note"]) for r in rows]


def _stages(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        names = conn.execute(
            sa.text("SELECT tablename FROM pg_tables WHERE starts_with(tablename, :p)"),
            {"p": PREFIX},
        )
        return list(names.scalars())


@pytest.mark.parametrize("executors", [True, False], ids=["executors", "driver"])
def test_spark_rows_reach_postgresql_whole_and_in_order(
    spark: Any, tmp_path: Path, pg: sa.Engine, executors: bool
) -> None:
    from weiwan.analytics.spark_store import SparkWarehouse

    store = SparkWarehouse(spark, str(tmp_path / "wh"), publish_from_executors=executors)
    rows = store.from_batches(_source().to_batches(max_chunksize=1_000), _source().schema)
    ordered = rows.order_by("subscriber_id")  # a global sort: several ordered partitions
    spark.conf.set("spark.sql.adaptive.enabled", "false")  # keep them apart, small as they are
    try:
        assert store._frame(ordered).rdd.getNumPartitions() > 1
        with pg.begin() as conn:
            loaded = load_staged(store, conn, _things(), ordered, "things")
    finally:
        spark.conf.unset("spark.sql.adaptive.enabled")
    assert loaded == ROWS
    assert _published(pg) == _expected()
    assert _stages(pg) == []


class _RerunningStore:
    """Runs ``write`` over the partitions in this process as Spark's executors would, each
    partition twice (a task retried or run speculatively), or failing after ``fail_after``."""

    def __init__(self, partitions: list[list[pa.RecordBatch]], fail_after: int | None = None):
        self.partitions = partitions
        self.fail_after = fail_after

    def write_partitions(
        self, rows: ir.Table, write: Callable[[int, Iterator[pa.RecordBatch]], int]
    ) -> int:
        total = 0
        for part, batches in enumerate(self.partitions):
            if part == self.fail_after:
                raise RuntimeError("executor lost")
            write(part, iter(batches))
            total += write(part, iter(batches))  # the second attempt's count is Spark's
        return total


def _partitions() -> list[list[pa.RecordBatch]]:
    ordered = _source().sort_by("subscriber_id")
    return [ordered.slice(start, 1_250).to_batches(500) for start in range(0, ROWS, 1_250)]


def test_a_partition_run_twice_is_loaded_once(pg: sa.Engine) -> None:
    rows = ibis.memtable(_source())
    with pg.begin() as conn:
        loaded = load_from_executors(_RerunningStore(_partitions()), conn, _things(), rows)
    assert loaded == ROWS
    assert _published(pg) == _expected()


def test_a_failed_load_changes_nothing_and_its_leftovers_go_next_time(pg: sa.Engine) -> None:
    rows = ibis.memtable(_source())
    with pg.begin() as conn:
        load_from_executors(_RerunningStore(_partitions()), conn, _things(), rows)
    with pytest.raises(RuntimeError, match="executor lost"), pg.begin() as conn:
        conn.execute(sa.delete(_things()))
        load_from_executors(_RerunningStore(_partitions(), fail_after=2), conn, _things(), rows)
    assert _published(pg) == _expected()  # the old rows, whole
    assert len(_stages(pg)) == 2  # the failed load's staging table and ledger stay behind
    with pg.begin() as conn:
        conn.execute(sa.delete(_things()))
        assert load_from_executors(_RerunningStore(_partitions()), conn, _things(), rows) == ROWS
    assert _stages(pg) == []
    assert _published(pg) == _expected()
