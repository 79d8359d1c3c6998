"""Append-only writers for the extracts (Parquet or CSV) and the truth files (Parquet)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from weiwan.analytics.contract import TABLES_BY_NAME, ColumnType, Table

Format = Literal["parquet", "csv"]

#: Arrow type each logical contract type is written as (bill months stay "YYYY-MM" strings).
#: Parquet has no seconds unit, so Parquet files hold timestamps as ms (whole seconds).
ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.STRING: pa.string(),
    ColumnType.INTEGER: pa.int64(),
    ColumnType.DECIMAL: pa.float64(),
    ColumnType.BOOLEAN: pa.bool_(),
    ColumnType.DATE: pa.date32(),
    ColumnType.TIMESTAMP: pa.timestamp("s"),
    ColumnType.MONTH: pa.string(),
}


def contract_schema(table: Table, extras: tuple[tuple[str, pa.DataType], ...] = ()) -> pa.Schema:
    """Arrow schema of a contract table in contract column order, then ``extras``."""
    fields = [pa.field(c.name, ARROW_TYPES[c.type]) for c in table.columns]
    return pa.schema(fields + [pa.field(name, typ) for name, typ in extras])


class _Writer:
    """One open output file."""

    def __init__(self, path: Path, schema: pa.Schema, fmt: Format) -> None:
        self.schema = schema
        self.rows = 0
        self._parquet: pq.ParquetWriter | None = None
        self._csv: pacsv.CSVWriter | None = None
        if fmt == "parquet":
            self._parquet = pq.ParquetWriter(path, schema, compression="zstd", compression_level=1)
        else:
            self._csv = pacsv.CSVWriter(path, schema)

    def write(self, table: pa.Table) -> None:
        table = table.select(self.schema.names).cast(self.schema)
        self.rows += table.num_rows
        if self._parquet is not None:
            self._parquet.write_table(table)
        elif self._csv is not None:
            self._csv.write_table(table)

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._csv is not None:
            self._csv.close()


class Sinks:
    """All output files of one run, opened on first write, closed together."""

    def __init__(
        self, out: Path, fmt: Format, extras: dict[str, tuple[tuple[str, pa.DataType], ...]]
    ) -> None:
        self.fmt: Format = fmt
        self.extracts_dir = out / "extracts"
        self.truth_dir = out / "truth"
        self.extracts_dir.mkdir(parents=True, exist_ok=True)
        self.truth_dir.mkdir(parents=True, exist_ok=True)
        self._extras = extras
        self._writers: dict[str, _Writer] = {}
        self.paths: dict[str, Path] = {}

    def open_extracts(self) -> None:
        """Create every extract file (so empty tables still exist with their header)."""
        for name, table in TABLES_BY_NAME.items():
            path = self.extracts_dir / f"{name}.{self.fmt}"
            schema = contract_schema(table, self._extras.get(name, ()))
            self._writers[name] = _Writer(path, schema, self.fmt)
            self.paths[name] = path

    def extract(self, name: str, table: pa.Table) -> None:
        """Append rows to the extract ``name``."""
        self._writers[name].write(table)

    def truth(self, name: str, table: pa.Table) -> None:
        """Append rows to ``truth/<name>.parquet``."""
        key = f"truth/{name}"
        if key not in self._writers:
            path = self.truth_dir / f"{name}.parquet"
            self._writers[key] = _Writer(path, table.schema, "parquet")
            self.paths[key] = path
        self._writers[key].write(table)

    def rows(self) -> dict[str, int]:
        """Rows written so far per output (extract name or ``truth/<name>``)."""
        return {name: w.rows for name, w in self._writers.items()}

    def close(self) -> None:
        for w in self._writers.values():
            w.close()
