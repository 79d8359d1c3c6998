"""Run the warehouse expressions on Spark (Ibis' PySpark backend).

An operator that outgrows one machine keeps the contract tables as Parquet (or Hive tables) on
the cluster; ``SparkSource`` hands them to the same Ibis expressions the DuckDB warehouse uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow.parquet as pq

from weiwan.analytics.contract import TABLES
from weiwan.analytics.warehouse import SNAPSHOT, Warehouse, quote


class SparkSource:
    """Contract tables read by Spark from ``<root>/<table>.parquet`` (files or directories)."""

    def __init__(self, session: Any, root: Path):
        self.con = ibis.pyspark.connect(session)
        self.root = root
        self._tables: dict[str, ir.Table] = {}

    def table(self, name: str) -> ir.Table:
        if name not in self._tables:
            path = str(self.root / f"{name}.parquet")
            self._tables[name] = self.con.read_parquet(path, table_name=name)
        return self._tables[name]

    def extra_columns(self, table_name: str) -> dict[str, str]:
        contract = next(t for t in TABLES if t.name == table_name)
        known = {*contract.column_names, SNAPSHOT, "_line"}
        schema = pq.read_schema(next(iter(sorted(self._files(table_name)))))
        extras = {f.name: _ibis_type(str(f.type)) for f in schema if f.name not in known}
        return dict(sorted(extras.items()))  # the warehouse lists them by name too

    def _files(self, name: str) -> list[Path]:
        path = self.root / f"{name}.parquet"
        return [path] if path.is_file() else sorted(path.glob("*.parquet"))


def _ibis_type(arrow_type: str) -> str:
    for prefix, kind in (
        ("int", "int64"),
        ("double", "float64"),
        ("float", "float64"),
        ("bool", "boolean"),
        ("date", "date"),
        ("timestamp", "timestamp"),
    ):
        if arrow_type.startswith(prefix):
            return kind
    return "string"


def export_warehouse(warehouse: Warehouse, root: Path) -> None:
    """Write every contract table of a DuckDB warehouse as Parquet for Spark to read."""
    root.mkdir(parents=True, exist_ok=True)
    for table in TABLES:
        target = str(root / f"{table.name}.parquet").replace("'", "''")  # COPY takes no parameter
        warehouse.execute(
            f"COPY (SELECT * FROM {quote(table.name)}) TO '{target}' (FORMAT parquet)"
        )
