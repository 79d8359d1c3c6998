"""The Spark engine's publish into PostgreSQL from the executors (``WEIWAN_SPARK_PUBLISH=
executors``, the default): the driver never holds the rows.

1. The driver creates an UNLOGGED staging table (the target's columns, typed by the model,
   plus the partition and the row's place in it) and a ledger of the partitions written, and
   commits them, so that the executors' own connections see them.
2. Each partition's task COPYs its rows into the staging table and records the partition in
   the ledger, in one transaction under an advisory lock on (staging table, partition): a
   task Spark runs again (a retry, speculation) finds its partition in the ledger and writes
   nothing, so every partition is loaded exactly once.
3. In the caller's transaction the driver moves the staged rows into the target in their
   order (``INSERT … SELECT … ORDER BY partition, row``) and drops the staging tables: readers
   see the snapshot's rows all at once at the commit, as with the DuckDB engine's publish.

A publish that fails leaves its staging tables behind; the next publish of the same table
drops them first (they are named ``_stage_<table>_<random>``).

What is ours: Spark's JDBC writer INSERTs row by row in batches and has no exactly-once
guarantee across task retries; PostgreSQL's COPY with a per-partition ledger gives both speed
and exactly-once, and no library does that for Spark and PostgreSQL.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from weiwan.pipeline.publish.copy import checked_columns, copy_into

PREFIX = "_stage_"
_PART, _ROW = "_part", "_row"


class PartitionWriter(Protocol):
    """A store (Spark) that runs a function over each partition of an expression's rows on
    its executors."""

    def write_partitions(
        self, rows: ir.Table, write: Callable[[int, Iterator[pa.RecordBatch]], int]
    ) -> int:
        """Sum of ``write(partition, batches)`` over the partitions of ``rows``."""
        ...


def load_from_executors(
    store: PartitionWriter, conn: sa.Connection, table: sa.Table, rows: ir.Table
) -> int:
    """Load ``rows`` into ``table`` (PostgreSQL, in ``conn``'s transaction) through a staging
    table the executors COPY into; returns the rows loaded."""
    columns = checked_columns(table, rows.columns)
    stage = _stage_name(table.name)
    ledger = f"{stage}_parts"
    url = conn.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with conn.engine.connect() as own:  # its own transaction: the executors must see them
        _drop_leftovers(own, table.name)
        _stage_table(stage, table, columns).create(own)
        sa.Table(
            ledger,
            sa.MetaData(),
            sa.Column("part", sa.Integer, primary_key=True),
            sa.Column("rows", sa.BigInteger, nullable=False),
            prefixes=["UNLOGGED"],
        ).create(own)
        own.commit()
    write = functools.partial(write_partition, url, stage, ledger, tuple(columns))
    written = store.write_partitions(rows, write)
    quote = conn.dialect.identifier_preparer.quote
    listed = ", ".join(quote(c) for c in columns)
    moved = conn.exec_driver_sql(
        f"INSERT INTO {quote(table.name)} ({listed}) SELECT {listed} FROM {quote(stage)} "
        f"ORDER BY {_PART}, {_ROW}"
    ).rowcount
    if moved != written:  # the ledger and the rows disagree: never publish a partial view
        raise RuntimeError(f"{table.name}: the executors wrote {written} rows, {moved} staged")
    conn.exec_driver_sql(f"DROP TABLE {quote(stage)}, {quote(ledger)}")
    return moved


def write_partition(
    url: str,
    stage: str,
    ledger: str,
    columns: Sequence[str],
    part: int,
    batches: Iterator[pa.RecordBatch],
) -> int:
    """On an executor: COPY one partition's rows into ``stage`` and record it in ``ledger``,
    once (see the module's docstring); returns the partition's rows."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url) as pg, pg.cursor() as cursor:  # commits on a clean exit
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s), %s)", (stage, part))
        cursor.execute(
            sql.SQL("SELECT rows FROM {} WHERE part = %s").format(sql.Identifier(ledger)), (part,)
        )
        done = cursor.fetchone()
        if done is not None:  # an earlier attempt of this task committed the partition
            return int(done[0])
        rows = copy_into(cursor, stage, [_PART, _ROW, *columns], _numbered(part, batches))
        cursor.execute(
            sql.SQL("INSERT INTO {} (part, rows) VALUES (%s, %s)").format(sql.Identifier(ledger)),
            (part, rows),
        )
    return rows


def _numbered(part: int, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Each batch with the partition and the rows' places in it in front."""
    start = 0
    for batch in batches:
        count = batch.num_rows
        places = pa.array(np.arange(start, start + count, dtype=np.int64))
        parts = pa.array(np.full(count, part, dtype=np.int32))
        yield pa.RecordBatch.from_arrays(
            [parts, places, *batch.columns], [_PART, _ROW, *batch.schema.names]
        )
        start += count


def _stage_name(table: str) -> str:
    return f"{PREFIX}{table}_{uuid.uuid4().hex[:12]}"


def _stage_table(name: str, table: sa.Table, columns: Sequence[str]) -> sa.Table:
    """The UNLOGGED staging table: partition, place, then ``columns`` typed as in ``table``
    (no keys or constraints: they are checked when the rows move into the target)."""
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column(_PART, sa.Integer, nullable=False),
        sa.Column(_ROW, sa.BigInteger, nullable=False),
        *(sa.Column(c, table.columns[c].type) for c in columns),
        prefixes=["UNLOGGED"],
    )


def _drop_leftovers(conn: sa.Connection, table: str) -> None:
    """Drop the staging tables a failed publish of ``table`` left behind."""
    names = conn.execute(
        sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND starts_with(tablename, :prefix)"
        ),
        {"prefix": f"{PREFIX}{table}_"},
    ).scalars()
    quote = conn.dialect.identifier_preparer.quote
    for name in list(names):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(name)}")
