"""PostgreSQL's ``COPY … FROM STDIN`` of Arrow record batches: each batch written as CSV by
Arrow (NULL: an empty unquoted field; strings always quoted) and fed to the COPY. Used by the
driver (:func:`weiwan.pipeline.publish.transport.copy_batches`) and by the Spark executors
(:mod:`weiwan.pipeline.publish.executors`), with a psycopg cursor either way."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import sqlalchemy as sa

#: rows per CSV chunk Arrow writes
CSV_BATCH_ROWS = 100_000
_CSV = pa_csv.WriteOptions(include_header=False, batch_size=CSV_BATCH_ROWS)


def checked_columns(table: sa.Table, names: Sequence[str]) -> list[str]:
    """``names`` as ``table``'s column names; ``ValueError`` naming the unknown ones."""
    unknown = [n for n in names if n not in table.columns]
    if unknown:
        raise ValueError(f"{table.name} has no columns {unknown}")
    return [table.columns[n].name for n in names]


def copy_into(
    cursor: Any, table: str, columns: Sequence[str], batches: Iterable[pa.RecordBatch]
) -> int:
    """``COPY table (columns) FROM STDIN (FORMAT csv)`` of ``batches`` (their columns in the
    order of ``columns``) through a psycopg ``cursor``; returns the rows copied."""
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    rows = 0
    with cursor.copy(statement) as copy:
        for batch in batches:
            sink = pa.BufferOutputStream()
            pa_csv.write_csv(batch, sink, _CSV)
            copy.write(memoryview(sink.getvalue()))
            rows += batch.num_rows
    return rows
