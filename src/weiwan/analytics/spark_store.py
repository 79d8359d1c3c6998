"""The warehouse on Spark (``WEIWAN_ENGINE=spark``): the same store interface the daily run uses
on the DuckDB :class:`~weiwan.analytics.warehouse.Warehouse`, over Parquet under one root URI
(a path, ``hdfs://``, ``s3a://``), the contract tables optionally read in place from Hive.

Layout under the root: ``<table>/_snapshot=<day>/`` for the contract tables (one partition per
delivery), ``<table>/snapshot_date=<day>/`` for the results of the daily run, ``<table>/`` for
the tables stored whole. Every write goes to ``_staging/`` first and is then swapped in with a
rename, so a failed step leaves the stored snapshot as it was and re-running a date replaces
exactly its partition.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends.pyspark import Backend as PySparkBackend
from ibis.backends.pyspark.datatypes import PySparkSchema

from weiwan.analytics.contract import TABLES, WAREHOUSE_TYPES
from weiwan.analytics.hive_mapping import mapped_hive_table
from weiwan.analytics.mapping import Mapping, load_mapping
from weiwan.analytics.spark import stored_extras
from weiwan.analytics.spark_session import spark_session
from weiwan.analytics.warehouse import (
    EVERYONE,
    SNAPSHOT,
    SubscriberRange,
    Warehouse,
    empty_table,
    latest_rows,
    one_delivery,
    with_contract_columns,
)
from weiwan.core.errors import ConfigError
from weiwan.core.settings import Settings

RESULT_PARTITION = "snapshot_date"
_CONTRACT = {t.name: t for t in TABLES}


class _ArrowBackend(PySparkBackend):  # type: ignore[misc]
    """Ibis' PySpark backend handing in-memory tables to Spark as Arrow, not pandas: from
    pandas, Spark stores a NaN in a text column as the text 'NaN' where DuckDB stores NULL."""

    def _register_in_memory_table(self, op: Any) -> None:
        arrow = op.data.to_pyarrow(op.schema)
        self._session.createDataFrame(arrow).createOrReplaceTempView(op.name)

    def _create_cached_table(self, name: str, expr: Any) -> Any:
        # Ibis compiles a cached expression without registering its in-memory tables first
        # (the report history caches its periods, a memtable): register them, as execute does
        self._run_pre_execute_hooks(expr)
        return super()._create_cached_table(name, expr)


class SparkWarehouse:
    """The analytical store on Spark; Ibis expressions over it run on the cluster."""

    def __init__(
        self,
        session: Any,
        root: str,
        *,
        hive_database: str | None = None,
        hive_mapping: Mapping | None = None,
        publish_from_executors: bool = True,
    ):
        self.session = session
        ibis.pyspark.connect  # noqa: B018 -- loading the backend registers options.pyspark
        self.con = _ArrowBackend().connect(session)
        # evidence JSON keeps its null fields, as DuckDB writes them
        session.conf.set("spark.sql.jsonGenerator.ignoreNullFields", "false")
        self.root = root.rstrip("/")
        self.hive_database = hive_database
        #: the operator's column names and codes onto the contract's, for the Hive tables
        self.hive_mapping = hive_mapping or Mapping()
        #: the publish writes each partition into PostgreSQL from its executor (else through
        #: the driver, one partition at a time): WEIWAN_SPARK_PUBLISH
        self.publish_from_executors = publish_from_executors
        self._tables: dict[str, ir.Table] = {}
        #: contract table -> whether it holds one delivery (a Spark job each: asked once)
        self._single: dict[str, bool] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> SparkWarehouse:
        """The store the settings name (master, root URI, Hive database and its column
        mapping, extra conf); the mapping file is checked before Spark starts."""
        if settings.spark_hive_mapping is not None and not settings.spark_hive_database:
            raise ConfigError(
                f"WEIWAN_SPARK_HIVE_MAPPING={settings.spark_hive_mapping} maps the columns of "
                "Hive tables read in place: set WEIWAN_SPARK_HIVE_DATABASE too (contract "
                "tables copied by `weiwan ingest` are mapped by `--mapping`)"
            )
        mapping = load_mapping(settings.spark_hive_mapping)
        return cls(
            spark_session(settings),
            settings.spark_warehouse_uri,
            hive_database=settings.spark_hive_database,
            hive_mapping=mapping,
            publish_from_executors=settings.spark_publish == "executors",
        )

    def close(self) -> None:
        """Forget the registered tables (the session stays for the process's other stores)."""
        self._tables.clear()
        self._single.clear()

    def __enter__(self) -> SparkWarehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading ---------------------------------------------------------------------------

    def has_table(self, name: str) -> bool:
        """Whether ``name`` holds stored data (a Hive table, or Parquet under the root)."""
        if self._in_hive(name):
            return bool(self.session.catalog.tableExists(f"{self.hive_database}.{name}"))
        fs, path = self._fs(self._uri(name))
        if not fs.exists(path):
            return False
        return any(
            "=" in child.getPath().getName() or child.getPath().getName().endswith(".parquet")
            for child in fs.listStatus(path)
        )

    def table(self, name: str) -> ir.Table:
        """The stored table; a contract table never delivered is empty (as on DuckDB)."""
        if name not in self._tables:
            if not self.has_table(name):
                if name in _CONTRACT:
                    return empty_table(_contract_schema(name))
                raise LookupError(f"table {name} is not stored under {self.root}")
            if self._in_hive(name):
                qualified = f"{self.hive_database}.{name}"
                rows = self._register(self.session.table(qualified))
                self._tables[name] = mapped_hive_table(rows, qualified, name, self.hive_mapping)
            else:
                reader = self.session.read.option("mergeSchema", "true")
                frame = reader.option("basePath", self._uri(name)).parquet(self._uri(name))
                self._tables[name] = with_contract_columns(self._register(frame), name)
        return self._tables[name]

    def extra_columns(self, table_name: str) -> dict[str, str]:
        """Extra attribute columns stored for a contract table: name -> Ibis type."""
        return stored_extras(self.table(table_name), table_name)

    def single_delivery(self, name: str) -> bool:
        """Whether contract table ``name`` holds one delivery. Never for a Hive table read in
        place: no ingest checked that its keys are unique within a delivery."""
        if self._in_hive(name):
            return False
        if name not in self._single:
            self._single[name] = one_delivery(self.table(name))
        return self._single[name]

    def current(self, name: str, as_of: date | None = None) -> ir.Table:
        """The latest delivered version of every row of ``name`` up to delivery date ``as_of``."""
        single = self.single_delivery(name)
        return latest_rows(self.table(name), name, as_of, single_delivery=single)

    # --- writing ---------------------------------------------------------------------------

    def replace_snapshot(self, name: str, rows: ir.Table, snapshot: date) -> int:
        """Store ``rows`` as the ``snapshot_date = snapshot`` partition of ``name``, atomically;
        new columns are allowed (schemas are merged on read). The number of rows stored."""
        frame = self._frame(rows.drop(RESULT_PARTITION))
        return self._swap(frame, self._partition(name, snapshot), name)

    def replace_snapshot_parts(self, name: str, parts: Sequence[ir.Table], snapshot: date) -> int:
        """:meth:`replace_snapshot` of the union of ``parts`` (one job: the cluster splits it)."""
        return self.replace_snapshot(
            name, ibis.union(*parts) if len(parts) > 1 else parts[0], snapshot
        )

    def subscriber_ranges(self, per_part: int) -> list[SubscriberRange]:
        """Everyone in one range: Spark splits a step's work across its executors itself."""
        return [EVERYONE]

    def replace_table(self, name: str, rows: ir.Table) -> int:
        """Store ``rows`` as the whole of ``name`` (staged, then swapped in); the rows stored."""
        return self._swap(self._frame(rows), self._uri(name), name)

    def drop_snapshot(self, name: str, snapshot: date) -> None:
        """Remove the ``snapshot_date = snapshot`` partition of a result table, if stored."""
        fs, path = self._fs(self._partition(name, snapshot))
        fs.delete(path, True)
        self._tables.pop(name, None)
        self._single.pop(name, None)

    def load_delivery(self, source: Warehouse, snapshot: date) -> dict[str, int]:
        """Copy the delivery ``snapshot`` of every contract table from the DuckDB warehouse
        ``weiwan ingest`` checked it into (quarantine and ingest log stay there), replacing the
        delivery's partition; the rows per table. Hive-mapped tables are read in place."""
        copied: dict[str, int] = {}
        for contract in TABLES:
            if self._in_hive(contract.name):
                continue
            stored = source.table(contract.name)
            arrow = stored.filter(stored[SNAPSHOT] == snapshot).drop(SNAPSHOT).to_pyarrow()
            target = f"{self._uri(contract.name)}/{SNAPSHOT}={snapshot.isoformat()}"
            if arrow.num_rows == 0:
                fs, path = self._fs(target)
                fs.delete(path, True)
                copied[contract.name] = 0
                continue
            copied[contract.name] = self._swap(
                self.session.createDataFrame(arrow), target, contract.name
            )
        return copied

    def map_batches(
        self,
        rows: ir.Table,
        fn: Callable[[pa.RecordBatch], pa.RecordBatch],
        schema: pa.Schema | ibis.Schema,
        *,
        batch_rows: int = 100_000,
    ) -> ir.Table:
        """``fn`` applied to ``rows`` in Arrow batches of at most ``batch_rows`` on the executors
        (``mapInArrow``: the function and the model it closes over are shipped to them); the
        result has ``schema``. Lazy: it runs when the result is stored or read."""
        target = ibis.schema(schema)

        def apply(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            for batch in batches:
                for start in range(0, batch.num_rows, batch_rows):
                    yield fn(batch.slice(start, batch_rows))

        mapped = self._frame(rows).mapInArrow(apply, PySparkSchema.from_ibis(target))
        return self._register(mapped)

    def from_batches(self, batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> ir.Table:
        """A table holding ``batches`` (each of ``schema``): gathered on the driver, then handed
        to Spark (the decisions' rows take this path; their arbitration runs on the driver)."""
        gathered = pa.Table.from_batches(list(batches), schema)
        return self._register(self.session.createDataFrame(gathered))

    def record_batches(self, rows: ir.Table, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """The rows as Arrow record batches of up to ``batch_rows`` rows, in the expression's
        order, through the driver one partition at a time (each batch travels as an Arrow IPC
        stream in one binary cell, so the driver never holds more than a partition)."""

        def as_ipc(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            for batch in batches:
                for start in range(0, batch.num_rows, batch_rows):
                    piece = batch.slice(start, batch_rows)
                    sink = pa.BufferOutputStream()
                    with pa.ipc.new_stream(sink, piece.schema) as writer:
                        writer.write_batch(piece)
                    ipc = pa.array([sink.getvalue().to_pybytes()], pa.binary())
                    yield pa.RecordBatch.from_arrays([ipc], ["ipc"])

        carried = self._frame(rows).mapInArrow(as_ipc, "ipc binary")
        for row in carried.toLocalIterator(prefetchPartitions=True):
            yield from pa.ipc.open_stream(pa.py_buffer(row[0]))

    def write_partitions(
        self, rows: ir.Table, write: Callable[[int, Iterator[pa.RecordBatch]], int]
    ) -> int:
        """``write(partition, batches)`` called on the executors for every partition of
        ``rows`` (``mapInArrow``: ``write`` is pickled and shipped, so it must be a module-level
        function or a ``functools.partial`` of one); returns the sum of what the calls return.
        Spark may run a partition's task more than once (a retry, speculation): ``write``
        must make that harmless."""

        def apply(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            from pyspark import TaskContext

            context = TaskContext.get()
            assert context is not None  # always set inside a task
            written = write(context.partitionId(), batches)
            yield pa.RecordBatch.from_arrays([pa.array([written], pa.int64())], ["rows"])

        counts = self._frame(rows).mapInArrow(apply, "rows long").collect()
        return int(sum(row[0] for row in counts))

    # --- helpers ---------------------------------------------------------------------------

    def _in_hive(self, name: str) -> bool:
        return self.hive_database is not None and name in _CONTRACT

    def _uri(self, name: str) -> str:
        return f"{self.root}/{name}"

    def _partition(self, name: str, snapshot: date) -> str:
        return f"{self._uri(name)}/{RESULT_PARTITION}={snapshot.isoformat()}"

    def _fs(self, uri: str) -> tuple[Any, Any]:
        """The Hadoop file system and path of ``uri`` (local, HDFS, S3A: whatever the session
        reaches)."""
        jvm = self.session._jvm
        path = jvm.org.apache.hadoop.fs.Path(uri)
        return path.getFileSystem(self.session._jsc.hadoopConfiguration()), path

    def _register(self, frame: Any) -> ir.Table:
        view = f"weiwan_{uuid.uuid4().hex}"
        frame.createOrReplaceTempView(view)
        return self.con.table(view)

    def _frame(self, rows: ir.Table) -> Any:
        """The Spark DataFrame of an Ibis expression (its in-memory tables registered)."""
        self.con._run_pre_execute_hooks(rows)
        frame = self.session.sql(self.con.compile(rows))
        untyped = [f.name for f in frame.schema.fields if f.dataType.typeName() == "void"]
        for column in untyped:  # all-null columns of pandas frames: Parquet needs a type
            frame = frame.withColumn(column, frame[column].cast("string"))
        return frame

    def _swap(self, frame: Any, target: str, name: str) -> int:
        """Write ``frame`` to a staging directory, then put it in place of ``target``."""
        staging = f"{self.root}/_staging/{name}-{uuid.uuid4().hex}"
        frame.write.mode("error").parquet(staging)
        try:
            count = int(self.session.read.parquet(staging).count())
            fs, path = self._fs(target)
            fs.delete(path, True)
            fs.mkdirs(path.getParent())
            if not fs.rename(self._fs(staging)[1], path):
                raise OSError(f"could not move {staging} to {target}")
        finally:
            staged_fs, staged = self._fs(staging)
            staged_fs.delete(staged, True)
        self._tables.pop(name, None)
        self._single.pop(name, None)
        return count


def _contract_schema(name: str) -> dict[str, str]:
    columns = {c.name: WAREHOUSE_TYPES[c.type] for c in _CONTRACT[name].columns}
    return {**columns, SNAPSHOT: "date", "_line": "int64"}
