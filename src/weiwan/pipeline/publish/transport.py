"""How published rows reach the operational database: the one transport of every kind.

- :func:`load_staged`: rows computed in the warehouse (an Ibis expression) are staged as a
  DuckDB temp table (which spills; streaming the customer view's query with its joins and
  sort straight into COPY ran out of memory at 10 M) and streamed as Arrow record batches: on
  PostgreSQL each batch is written as CSV by Arrow and fed to ``COPY … FROM STDIN``
  (:func:`copy_batches`); on SQLite they are inserted with ``executemany``
  (:func:`insert_batches`);
- :func:`insert_rows`: rows built in Python, ``executemany`` in chunks of
  :data:`INSERT_CHUNK_ROWS`;
- :func:`upsert`: one row, ``INSERT … ON CONFLICT (keys) DO UPDATE``;
- rows that must never replace what a unique key holds go through
  :func:`weiwan.ops.bulk.insert_ignoring_duplicates` (``ON CONFLICT DO NOTHING``).

Column names come from the models only; values are never formatted into SQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

import ibis.expr.types as ir
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from weiwan.analytics.warehouse import Warehouse, quote
from weiwan.ops.base import Base
from weiwan.pipeline.publish.copy import checked_columns, copy_into
from weiwan.pipeline.publish.executors import PartitionWriter, load_from_executors

#: rows per Arrow batch read from the warehouse (one COPY write each on PostgreSQL)
BATCH_ROWS = 100_000
#: rows per executemany (SQLite loads, and rows built in Python)
INSERT_CHUNK_ROWS = 10_000


def table_of(model: type[Base]) -> sa.Table:
    """The ``Table`` of a mapped model."""
    table = model.__table__
    assert isinstance(table, sa.Table)
    return table


def upsert(
    conn: sa.Connection,
    table: sa.Table,
    values: Mapping[str, Any],
    *,
    keys: Sequence[str],
    **extra: Any,
) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE (PostgreSQL and SQLite)."""
    row = {**values, **extra}
    updates = {k: v for k, v in row.items() if k not in keys}
    if conn.dialect.name == "postgresql":
        pg = postgresql.insert(table).values(row)
        conn.execute(pg.on_conflict_do_update(index_elements=list(keys), set_=updates))
    elif conn.dialect.name == "sqlite":
        lite = sqlite.insert(table).values(row)
        conn.execute(lite.on_conflict_do_update(index_elements=list(keys), set_=updates))
    else:
        raise NotImplementedError(f"publishing to {conn.dialect.name} is not supported")


def insert_rows(
    conn: sa.Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    chunk: int = INSERT_CHUNK_ROWS,
) -> int:
    """``executemany`` INSERTs of ``rows`` in chunks of ``chunk``; returns the rows written."""
    statement = sa.insert(table)
    for start in range(0, len(rows), chunk):
        conn.execute(statement, list(rows[start : start + chunk]))
    return len(rows)


def record_batches(warehouse: Warehouse, staged: str) -> Iterator[pa.RecordBatch]:
    """The staged rows as Arrow record batches of up to BATCH_ROWS rows, in stored order."""
    yield from warehouse.con.con.sql(f"SELECT * FROM {quote(staged)}").to_arrow_reader(BATCH_ROWS)


class BatchStore(PartitionWriter, Protocol):
    """A warehouse on another engine (Spark) that hands over an expression's rows in batches
    through the driver, or has its executors write them (:mod:`.executors`)."""

    publish_from_executors: bool

    def record_batches(self, rows: ir.Table, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """The rows of ``rows`` as Arrow record batches of up to ``batch_rows`` rows."""
        ...


def load_staged(
    warehouse: Warehouse | BatchStore,
    conn: sa.Connection,
    table: sa.Table,
    rows: ir.Table,
    kind: str,
) -> int:
    """Stage ``rows`` in the warehouse (a temp table), then bulk-load them into ``table``.
    Spark: the executors COPY them into PostgreSQL (:mod:`.executors`), or the store streams
    them through the driver (``WEIWAN_SPARK_PUBLISH=driver``, and any other database)."""
    if not isinstance(warehouse, Warehouse):
        if conn.dialect.name == "postgresql" and warehouse.publish_from_executors:
            return load_from_executors(warehouse, conn, table, rows)
        return _load(conn, table, warehouse.record_batches(rows, BATCH_ROWS))
    staged = f"_publish_{kind}"
    warehouse.con.create_table(staged, rows, temp=True, overwrite=True)
    try:
        return _load(conn, table, record_batches(warehouse, staged))
    finally:
        warehouse.execute(f"DROP TABLE IF EXISTS {quote(staged)}")


def _load(conn: sa.Connection, table: sa.Table, batches: Iterator[pa.RecordBatch]) -> int:
    if conn.dialect.name == "postgresql":
        return copy_batches(conn, table, batches)
    return insert_batches(conn, table, batches)


def copy_batches(conn: sa.Connection, table: sa.Table, batches: Iterator[pa.RecordBatch]) -> int:
    """PostgreSQL: :func:`~weiwan.pipeline.publish.copy.copy_into` ``table`` in ``conn``'s
    transaction, the columns those of the first batch. Returns rows loaded."""
    import psycopg

    dbapi = conn.connection.dbapi_connection
    assert isinstance(dbapi, psycopg.Connection)
    first = next(batches, None)
    if first is None:
        return 0
    columns = checked_columns(table, first.schema.names)
    with dbapi.cursor() as cursor:
        return copy_into(cursor, table.name, columns, _chain(first, batches))


def insert_batches(conn: sa.Connection, table: sa.Table, batches: Iterator[pa.RecordBatch]) -> int:
    """Any other database (SQLite): :func:`insert_rows` of each batch, INSERT_CHUNK_ROWS rows
    converted to Python at a time."""
    rows = 0
    for batch in batches:
        checked_columns(table, batch.schema.names)
        for start in range(0, batch.num_rows, INSERT_CHUNK_ROWS):
            rows += insert_rows(conn, table, batch.slice(start, INSERT_CHUNK_ROWS).to_pylist())
    return rows


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest
