"""The warehouse (数据仓库): a DuckDB file reached through Ibis.

Each contract table is stored with the delivery it came from (``_snapshot``, the extract date)
and its source line. A later delivery of the same key supersedes an earlier one;
``current`` gives the latest version of every row as of a date.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol
from uuid import uuid4

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
from ibis.backends.sql.datatypes import DuckDBType

from weiwan.analytics.contract import TABLES, TABLES_BY_NAME, WAREHOUSE_TYPES, Table
from weiwan.core.files import private_dir, restrict
from weiwan.core.settings import Settings

SNAPSHOT = "_snapshot"
_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "int64": "BIGINT",
    "float64": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}

_META_DDL = (
    """CREATE TABLE IF NOT EXISTS quarantine (
        _snapshot DATE NOT NULL, table_name VARCHAR NOT NULL, file VARCHAR NOT NULL,
        line BIGINT, column_name VARCHAR, value VARCHAR, reason VARCHAR NOT NULL)""",
    # the row's subscriber (as delivered), so an erasure finds their rejected values too
    "ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS subscriber_id VARCHAR",
    """CREATE TABLE IF NOT EXISTS ingest_log (
        _snapshot DATE NOT NULL, table_name VARCHAR NOT NULL, file VARCHAR NOT NULL,
        fingerprint VARCHAR NOT NULL, mapping_fingerprint VARCHAR NOT NULL,
        rows_read BIGINT NOT NULL, loaded BIGINT NOT NULL, quarantined BIGINT NOT NULL,
        loaded_at TIMESTAMP NOT NULL, PRIMARY KEY (_snapshot, table_name))""",
    """CREATE TABLE IF NOT EXISTS extra_columns (
        table_name VARCHAR NOT NULL, column_name VARCHAR NOT NULL, type VARCHAR NOT NULL,
        first_snapshot DATE NOT NULL, PRIMARY KEY (table_name, column_name))""",
)


class TableSource(Protocol):
    """Where analytics read contract tables from: the DuckDB warehouse, or Spark (spark.py)."""

    def table(self, name: str) -> ir.Table:
        """The stored table ``name`` (contract columns, extras, ``_snapshot``, ``_line``)."""
        ...

    def extra_columns(self, table_name: str) -> dict[str, str]:
        """Extra attribute columns stored for a table: name -> Ibis type."""
        ...

    def single_delivery(self, name: str) -> bool:
        """Whether every stored row of contract table ``name`` came with one delivery (or none
        is stored): each key then has one version, and no version needs picking."""
        ...


#: what ``map_batches`` applies: one batch of rows in, its results out (a pure function)
BatchFn = Callable[[pa.RecordBatch], pa.RecordBatch]


class Store(TableSource, Protocol):
    """What the daily run needs of a warehouse: the DuckDB file (:class:`Warehouse`) or
    Spark (``analytics.spark_store.SparkWarehouse``)."""

    def has_table(self, name: str) -> bool:
        """Whether table ``name`` is stored."""
        ...

    def current(self, name: str, as_of: date | None = None) -> ir.Table:
        """The latest delivered version of every row of contract table ``name``."""
        ...

    def replace_snapshot(self, name: str, rows: ir.Table, snapshot: date) -> int:
        """Store ``rows`` as the ``snapshot_date = snapshot`` part of ``name``, atomically."""
        ...

    def replace_table(self, name: str, rows: ir.Table) -> int:
        """Store ``rows`` as the whole of table ``name``, atomically."""
        ...

    def drop_snapshot(self, name: str, snapshot: date) -> None:
        """Remove the ``snapshot_date = snapshot`` part of a result table, if stored."""
        ...

    def map_batches(
        self, rows: ir.Table, fn: BatchFn, schema: pa.Schema, *, batch_rows: int = 100_000
    ) -> ir.Table:
        """``fn`` applied to ``rows`` in batches of at most ``batch_rows`` (never the whole
        table in memory); the results as a table of this store (the caller stores it with
        replace_snapshot and the store drops it after)."""
        ...

    def from_batches(self, batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> ir.Table:
        """A table of this store holding ``batches`` (each of ``schema``), never all of them in
        memory at once where the engine allows it."""
        ...

    def subscriber_ranges(self, per_part: int) -> list[SubscriberRange]:
        """Ranges of subscriber ids that split the subscribers into parts of about
        ``per_part`` (DuckDB: a per-subscriber step computed part by part keeps its state in
        memory; Spark: one range, the cluster splits the work itself)."""
        ...

    def replace_snapshot_parts(self, name: str, parts: Sequence[ir.Table], snapshot: date) -> int:
        """:meth:`replace_snapshot` with the rows given as disjoint ``parts``, stored one after
        another in one transaction."""
        ...


@dataclass(frozen=True)
class SubscriberRange:
    """The subscribers with ids in ``[low, high)`` (None: unbounded on that side)."""

    low: str | None = None
    high: str | None = None

    def rows(self, table: ir.Table) -> ir.Table:
        """The rows of ``table`` (which has a ``subscriber_id``) in the range; ids compared as
        text (a string column as it is, so the store skips other ranges by its min/max)."""
        sid = table.subscriber_id
        if not sid.type().is_string():
            sid = sid.cast("string")
        if self.low is not None:
            table = table.filter(sid >= self.low)
        if self.high is not None:
            table = table.filter(sid < self.high)
        return table


EVERYONE = SubscriberRange()


class RestrictedSource:
    """The tables of ``source``, those with a ``subscriber_id`` passed through ``restrict`` (a
    filter or semi-join keeping some subscribers' rows), the others whole: a range of ids, a
    training sample. A part of a table holding one delivery holds one delivery too."""

    def __init__(self, source: TableSource, restrict: Callable[[ir.Table], ir.Table]) -> None:
        self.source = source
        self.restrict = restrict

    def table(self, name: str) -> ir.Table:
        """The stored table ``name``; only the kept subscribers' rows when it has subscribers."""
        rows = self.source.table(name)
        return self.restrict(rows) if "subscriber_id" in rows.columns else rows

    def extra_columns(self, table_name: str) -> dict[str, str]:
        """The source's extra attribute columns of ``table_name``."""
        return self.source.extra_columns(table_name)

    def single_delivery(self, name: str) -> bool:
        """Whether the source's ``name`` holds one delivery."""
        return self.source.single_delivery(name)


def ranges_of(source: TableSource, per_part: int) -> list[SubscriberRange]:
    """Ranges splitting the delivered subscribers into parts of about ``per_part`` (by id
    order: one ordered pass over the ids); one range for everyone when they fit in one."""
    return id_ranges(source.table("subscribers").select("subscriber_id"), per_part)


def id_ranges(ids: ir.Table, per_part: int) -> list[SubscriberRange]:
    """Ranges splitting the distinct ``subscriber_id`` of ``ids`` (a string column) into parts
    of about ``per_part``; one range for everyone when they fit in one."""
    ids = ids.select("subscriber_id").distinct()
    count = int(ids.count().execute())
    parts = -(-count // max(1, per_part))
    if parts <= 1:
        return [EVERYONE]
    ranked = ids.mutate(_part=ibis.ntile(parts).over(order_by=ids.subscriber_id))
    firsts = ranked.group_by("_part").aggregate(first=ranked.subscriber_id.min()).order_by("_part")
    bounds: list[str | None] = [str(v) for v in firsts["first"].to_pyarrow().to_pylist()[1:]]
    return [
        SubscriberRange(low, high)
        for low, high in zip([None, *bounds], [*bounds, None], strict=True)
    ]


def _reads_table(rows: ir.Table, name: str) -> bool:
    """Whether the query of ``rows`` reads the stored table ``name`` (or holds SQL text, which
    might)."""
    found = rows.op().find((ops.DatabaseTable, ops.SQLQueryResult, ops.SQLStringView))
    return any(not isinstance(node, ops.DatabaseTable) or node.name == name for node in found)


def one_delivery(rows: ir.Table) -> bool:
    """Whether every row of a stored contract table has the same delivery date (``_snapshot``),
    or there is none: its first equals its last, which DuckDB and Parquet answer from the
    column's statistics without reading the rows."""
    bounds = rows.aggregate(first=rows[SNAPSHOT].min(), last=rows[SNAPSHOT].max()).to_pyarrow()
    first, last = bounds["first"][0].as_py(), bounds["last"][0].as_py()
    return bool(first == last)


def latest_rows(
    rows: ir.Table, name: str, as_of: date | None = None, *, single_delivery: bool = False
) -> ir.Table:
    """The latest delivered version (``_snapshot``) of every key of contract table ``name``
    in ``rows``, up to delivery date ``as_of``. With ``single_delivery`` (the rows came with
    one delivery, so a key has one version: :func:`one_delivery`) no version is picked, which
    saves a window over every row of the table."""
    contract = next(t for t in TABLES if t.name == name)
    if as_of is not None:
        rows = rows.filter(rows[SNAPSHOT] <= as_of)
    if single_delivery:
        return rows
    latest = rows[SNAPSHOT].max().over(group_by=[rows[k] for k in contract.key])
    return rows.filter(rows[SNAPSHOT] == latest)


def latest_delivery(source: TableSource, name: str = "subscribers") -> date | None:
    """The latest delivery date (``_snapshot``) of contract table ``name`` on any engine (DuckDB
    gives a date, Spark a datetime); None when nothing was delivered."""
    value = source.table(name)[SNAPSHOT].max().execute()
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()


def has_rows(table: ir.Table) -> bool:
    """Whether ``table`` holds at least one row (reads one row at most, on either engine)."""
    return bool(table.limit(1).count().execute())


def empty_table(schema: Mapping[str, str]) -> ir.Table:
    """A typed table with no rows. Built from Arrow, so every engine sees the types (an empty
    pandas column is float64, which Spark cannot cast to a date)."""
    return ibis.memtable(ibis.schema(dict(schema)).to_pyarrow().empty_table())


def with_contract_columns(rows: ir.Table, name: str) -> ir.Table:
    """The stored ``rows`` of contract table ``name`` with the contract columns its files
    predate as typed NULLs (never delivered): Spark reads files as they were written, where
    the DuckDB warehouse adds a new column to its table on opening."""
    contract = TABLES_BY_NAME.get(name)
    if contract is None:
        return rows
    absent = {c.name: ibis.null(WAREHOUSE_TYPES[c.type]) for c in contract.columns}
    absent = {name: null for name, null in absent.items() if name not in rows.columns}
    return rows.mutate(**absent) if absent else rows


#: prefix of the tables map_batches fills; dropped after the next store, or when reopened
_MAPPED = "_mapped_"


def quote(identifier: str) -> str:
    """A DuckDB identifier, quoted (extra columns may carry any operator name)."""
    return '"' + identifier.replace('"', '""') + '"'


def duckdb_type(ibis_type: str) -> str:
    """The DuckDB column type for an Ibis type name used by the contract."""
    return _DUCKDB_TYPES[ibis_type]


#: the daily run's warnings per snapshot (event, message, snapshot_date): why a result is
#: missing (no model could be trained, no policy valid on the day, ...)
RUN_WARNINGS = "run_warnings"


class Warehouse:
    """The analytical store; one DuckDB connection, shared by Ibis and the loader."""

    def __init__(self, path: Path, *, threads: int = 0, memory_limit: str | None = None):
        private_dir(path.parent)
        config: dict[str, Any] = {}
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        self.path = path
        self.con = ibis.duckdb.connect(str(path), **config)
        restrict(path)  # DuckDB creates the file with the umask's mode; it holds personal data
        self._mapped: list[str] = []
        self._ensure_schema()

    @classmethod
    def from_settings(cls, settings: Settings) -> Warehouse:
        """The warehouse the settings name (file, threads, memory limit)."""
        return cls(
            settings.warehouse_file, threads=settings.threads, memory_limit=settings.memory_limit
        )

    def close(self) -> None:
        self._drop_mapped()
        self.con.disconnect()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement with bound parameters and return its rows (if any)."""
        cursor = self.con.con.execute(sql, list(params))
        try:
            return list(cursor.fetchall())
        except Exception:  # statements without a result set
            return []

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: a failure inside leaves the warehouse exactly as it was."""
        self.con.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.con.execute("ROLLBACK")
            raise
        self.con.con.execute("COMMIT")

    def has_table(self, name: str) -> bool:
        found = self.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        )
        return bool(found[0][0])

    def table(self, name: str) -> ir.Table:
        return self.con.table(name)

    def single_delivery(self, name: str) -> bool:
        """Whether contract table ``name`` holds one delivery (ingest quarantines a key repeated
        within a delivery, so each key then has one row); a few milliseconds from DuckDB's
        statistics, so never cached (ingest may add a delivery at any time)."""
        return one_delivery(self.table(name))

    def _ensure_schema(self) -> None:
        for ddl in _META_DDL:
            self.execute(ddl)
        for contract in TABLES:
            self.execute(_table_ddl(contract))
        self._add_new_contract_columns()
        # batch results a crashed run left behind
        leftover = self.execute(
            "SELECT table_name FROM information_schema.tables WHERE starts_with(table_name, ?)",
            [_MAPPED],
        )
        self._mapped = [str(name) for (name,) in leftover]
        self._drop_mapped()

    def _add_new_contract_columns(self) -> None:
        """A warehouse created before a column joined the contract gains it (NULL: never
        delivered), so the features built on it see an undelivered input, not an error."""
        stored = set(
            self.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema()"
            )
        )
        for contract in TABLES:
            for column in contract.columns:
                if (contract.name, column.name) not in stored:
                    kind = duckdb_type(WAREHOUSE_TYPES[column.type])
                    self.execute(
                        f"ALTER TABLE {quote(contract.name)} ADD COLUMN {quote(column.name)} {kind}"
                    )

    def map_batches(
        self, rows: ir.Table, fn: BatchFn, schema: pa.Schema, *, batch_rows: int = 100_000
    ) -> ir.Table:
        """``fn`` applied to ``rows`` in batches of at most ``batch_rows`` (never the whole
        table in memory); the results as a table of this store (the caller stores it with
        replace_snapshot and the store drops it after)."""
        if batch_rows < 1:
            raise ValueError(f"batch_rows must be at least 1, not {batch_rows}")
        # DuckDB streams the read on the main connection; the results are written meanwhile
        # through a second connection (a statement on the first would end the stream)
        self.con._run_pre_execute_hooks(rows)  # registers the expression's memtables
        reader = self.con.con.sql(self.con.compile(rows)).to_arrow_reader(batch_rows)
        try:
            return self.from_batches((fn(batch) for batch in reader), schema)
        finally:
            reader.close()  # on an error too: an open result blocks the connection

    def from_batches(self, batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> ir.Table:
        """A table of this store holding ``batches`` (each of ``schema``), written as they come,
        so that only one batch is in memory at a time (the caller stores it with
        replace_snapshot and the store drops it after)."""
        name = f"{_MAPPED}{uuid4().hex}"
        self._mapped.append(name)
        writer = self.con.con.cursor()
        try:
            writer.register("_mapped_schema", schema.empty_table())
            writer.execute(f"CREATE TABLE {quote(name)} AS FROM _mapped_schema")
            for batch in batches:
                if not batch.schema.equals(schema):
                    raise ValueError(f"a batch of {batch.schema}, not {schema}")
                writer.register("_mapped_batch", batch)
                writer.execute(f"INSERT INTO {quote(name)} FROM _mapped_batch")
                writer.unregister("_mapped_batch")
        finally:
            writer.close()
        return self.table(name)

    def _drop_mapped(self) -> None:
        for name in self._mapped:
            self.execute(f"DROP TABLE IF EXISTS {quote(name)}")
        self._mapped = []

    def extra_columns(self, table_name: str) -> dict[str, str]:
        """Extra attribute columns already stored for a table: name -> Ibis type."""
        rows = self.execute(
            "SELECT column_name, type FROM extra_columns WHERE table_name = ? ORDER BY 1",
            [table_name],
        )
        return {str(name): str(kind) for name, kind in rows}

    def replace_snapshot(self, name: str, rows: ir.Table, snapshot: date) -> int:
        """Store ``rows`` as the ``snapshot_date = snapshot`` part of table ``name``, atomically.

        Re-running a snapshot replaces it; columns new to the table (an operator's new attribute,
        a new tag) are added. Returns the number of rows stored. The rows are inserted straight
        from their query; only a query that reads ``name`` itself is staged first (it must see
        the table as it was): staging a wide table of 10 M rows wrote it twice, the temp copy
        spilled uncompressed.
        """
        return self.replace_snapshot_parts(name, [rows], snapshot)

    def replace_snapshot_parts(self, name: str, parts: Sequence[ir.Table], snapshot: date) -> int:
        """:meth:`replace_snapshot` of the union of disjoint ``parts`` (the same columns),
        inserted one after another in one transaction: each part's query runs on its own."""
        staged = f"_stage_{name}" if any(_reads_table(part, name) for part in parts) else None
        if staged is not None:  # it must see the table as it was: computed before the delete
            self.con.create_table(staged, ibis.union(*parts), temp=True, overwrite=True)
        sources = [f"FROM {quote(staged)}"] if staged else (self._query(part) for part in parts)
        count = 0
        try:
            with self.transaction():
                self._add_columns(name, parts[0].schema())
                self.execute(f"DELETE FROM {quote(name)} WHERE snapshot_date = ?", [snapshot])
                for source in sources:
                    count += self.execute(f"INSERT INTO {quote(name)} BY NAME {source}")[0][0]
        finally:
            if staged is not None:
                self.execute(f"DROP TABLE IF EXISTS {quote(staged)}")
            self._drop_mapped()
        return int(count)

    def subscriber_ranges(self, per_part: int) -> list[SubscriberRange]:
        """Ranges of about ``per_part`` subscribers (:func:`ranges_of`)."""
        return ranges_of(self, per_part)

    def _query(self, rows: ir.Table) -> str:
        """``rows`` as SQL of this connection (its in-memory tables registered), in brackets."""
        self.con._run_pre_execute_hooks(rows)
        return f"({self.con.compile(rows)})"

    def _add_columns(self, name: str, schema: ibis.Schema) -> None:
        """Create table ``name`` with ``schema`` when missing, else add the columns it lacks."""
        columns = {column: DuckDBType.to_string(kind) for column, kind in schema.items()}
        if not self.has_table(name):
            listed = ", ".join(f"{quote(c)} {kind}" for c, kind in columns.items())
            self.execute(f"CREATE TABLE {quote(name)} ({listed})")
            return
        existing = {row[0] for row in self.execute(f"DESCRIBE {quote(name)}")}
        for column, kind in columns.items():
            if column not in existing:
                self.execute(f"ALTER TABLE {quote(name)} ADD COLUMN {quote(column)} {kind}")

    def replace_table(self, name: str, rows: ir.Table) -> int:
        """Store ``rows`` as the whole of table ``name``, atomically; the number of rows
        (straight from the query, unless it reads ``name`` itself: then staged first)."""
        staged = f"_stage_{name}" if _reads_table(rows, name) else None
        if staged is not None:
            self.con.create_table(staged, rows, temp=True, overwrite=True)
        source = f"FROM {quote(staged)}" if staged else self._query(rows)
        try:
            with self.transaction():
                self.execute(f"DROP TABLE IF EXISTS {quote(name)}")
                self.execute(f"CREATE TABLE {quote(name)} AS {source}")
            count = self.execute(f"SELECT count(*) FROM {quote(name)}")[0][0]
        finally:
            if staged is not None:
                self.execute(f"DROP TABLE IF EXISTS {quote(staged)}")
            self._drop_mapped()
        return int(count)

    def drop_snapshot(self, name: str, snapshot: date) -> None:
        """Remove the ``snapshot_date = snapshot`` part of a result table, if it exists."""
        if self.has_table(name):
            self.execute(f"DELETE FROM {quote(name)} WHERE snapshot_date = ?", [snapshot])

    def current(self, name: str, as_of: date | None = None) -> ir.Table:
        """The latest delivered version of every row of ``name`` up to delivery date ``as_of``."""
        single = self.single_delivery(name)
        return latest_rows(self.table(name), name, as_of, single_delivery=single)


def _table_ddl(contract: Table) -> str:
    columns = [f"{quote(c.name)} {duckdb_type(WAREHOUSE_TYPES[c.type])}" for c in contract.columns]
    return (
        f"CREATE TABLE IF NOT EXISTS {quote(contract.name)} ("
        + ", ".join([*columns, f"{SNAPSHOT} DATE NOT NULL", "_line BIGINT"])
        + ")"
    )
