"""Contract round trip: what the simulator writes (CSV or Parquet) is exactly what ingest stores."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

import duckdb
import pytest

from weiwan.analytics.contract import TABLES
from weiwan.analytics.ingest import ingest
from weiwan.analytics.warehouse import Warehouse, quote
from weiwan.sim import simulate

SNAP = date(2026, 10, 31)


def _as_stored(column: str, stored_type: str) -> str:
    """The extract's column converted the way the contract says it is stored."""
    quoted = quote(column)
    if column == "bill_month":
        return "strptime(bill_month, '%Y-%m')::DATE"
    if stored_type == "BOOLEAN":
        return f"upper({quoted}::VARCHAR) IN ('Y', 'TRUE', '1')"
    return f"CAST({quoted} AS {stored_type})"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_every_simulated_value_survives_ingest(
    tmp_path: Path, fmt: Literal["csv", "parquet"]
) -> None:
    sim = tmp_path / "sim"
    simulate(subscribers=1500, months=3, seed=11, out=sim, end_month="2026-10", fmt=fmt)
    wh = Warehouse(tmp_path / "wh.duckdb", threads=2)
    try:
        result = ingest(sim, snapshot=SNAP, warehouse=wh)
    finally:
        wh.close()
    assert all(r.quarantined == 0 and r.loaded == r.rows > 0 for r in result.tables.values())
    con = duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True)
    try:
        for table in TABLES:
            described = con.execute(f"DESCRIBE {table.name}").fetchall()
            types = {row[0]: row[1] for row in described if not row[0].startswith("_")}
            stored = ", ".join(quote(c) for c in types)
            source = ", ".join(_as_stored(c, t) for c, t in types.items())
            reader = "read_csv" if fmt == "csv" else "read_parquet"
            opts = ", all_varchar = true" if fmt == "csv" else ""
            src = f"{reader}('{sim}/extracts/{table.name}.{fmt}'{opts})"
            only_in_extract = con.execute(
                f"SELECT count(*) FROM (SELECT {source} FROM {src} "
                f"EXCEPT ALL SELECT {stored} FROM {table.name})"
            ).fetchone()
            only_in_warehouse = con.execute(
                f"SELECT count(*) FROM (SELECT {stored} FROM {table.name} "
                f"EXCEPT ALL SELECT {source} FROM {src})"
            ).fetchone()
            assert only_in_extract == (0,) and only_in_warehouse == (0,), table.name
            assert len(types) >= len(table.columns)
    finally:
        con.close()
