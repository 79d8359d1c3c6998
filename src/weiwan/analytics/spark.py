"""Run the warehouse expressions on Spark (Ibis' PySpark backend).

An operator that outgrows one machine keeps the contract tables as Parquet (or Hive tables) on
the cluster; ``SparkSource`` hands them to the same Ibis expressions the DuckDB warehouse uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from weiwan.analytics.contract import TABLES
from weiwan.analytics.warehouse import (
    SNAPSHOT,
    Warehouse,
    one_delivery,
    quote,
    with_contract_columns,
)


class SparkSource:
    """Contract tables read by Spark from ``<root>/<table>.parquet`` (a path or URI, e.g. HDFS)."""

    def __init__(self, session: Any, root: str | Path):
        self.con = ibis.pyspark.connect(session)
        self.root = str(root).rstrip("/")
        self._tables: dict[str, ir.Table] = {}
        self._single: dict[str, bool] = {}

    def table(self, name: str) -> ir.Table:
        if name not in self._tables:
            path = f"{self.root}/{name}.parquet"
            rows = self.con.read_parquet(path, table_name=name)
            self._tables[name] = with_contract_columns(rows, name)
        return self._tables[name]

    def extra_columns(self, table_name: str) -> dict[str, str]:
        return stored_extras(self.table(table_name), table_name)

    def single_delivery(self, name: str) -> bool:
        """Whether ``name`` holds one delivery (the files are read once: asked once)."""
        if name not in self._single:
            self._single[name] = one_delivery(self.table(name))
        return self._single[name]


def stored_extras(table: ir.Table, table_name: str) -> dict[str, str]:
    """The columns of a stored contract table beyond the contract's: name -> Ibis type."""
    contract = next(t for t in TABLES if t.name == table_name)
    known = {*contract.column_names, SNAPSHOT, "_line"}
    extras = {name: _ibis_type(kind) for name, kind in table.schema().items() if name not in known}
    return dict(sorted(extras.items()))  # the warehouse lists them by name too


def _ibis_type(kind: dt.DataType) -> str:
    if kind.is_integer():
        return "int64"
    if kind.is_floating() or kind.is_decimal():
        return "float64"
    for check, name in (
        (kind.is_boolean, "boolean"),
        (kind.is_date, "date"),
        (kind.is_timestamp, "timestamp"),
    ):
        if check():
            return name
    return "string"


def export_warehouse(warehouse: Warehouse, root: Path) -> None:
    """Write every contract table of a DuckDB warehouse as Parquet for Spark to read."""
    root.mkdir(parents=True, exist_ok=True)
    for table in TABLES:
        target = str(root / f"{table.name}.parquet").replace("'", "''")  # COPY takes no parameter
        warehouse.execute(
            f"COPY (SELECT * FROM {quote(table.name)}) TO '{target}' (FORMAT parquet)"
        )
