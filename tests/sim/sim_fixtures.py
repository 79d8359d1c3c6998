"""The simulated operator shared by the simulator tests (generated once per session).

Its fixtures are loaded by tests/sim/conftest.py; tests import its constants and helpers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from weiwan.analytics.contract import TABLES
from weiwan.sim import SimulationSummary, simulate

SUBSCRIBERS, MONTHS, SEED, END = 24_000, 12, 7, "2025-12"


def one(con: Any, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


def read(run: tuple[Path, SimulationSummary], name: str) -> pa.Table:
    return pq.read_table(run[0] / "extracts" / f"{name}.parquet")


@pytest.fixture(scope="session")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimulationSummary]:
    out = tmp_path_factory.mktemp("sim")
    calls: list[tuple[str, int, int]] = []
    summary = simulate(
        subscribers=SUBSCRIBERS,
        months=MONTHS,
        seed=SEED,
        out=out,
        end_month=END,
        chunk_size=10_000,
        progress=lambda s, d, t: calls.append((s, d, t)),
    )
    assert calls[-1][1] == calls[-1][2] > 0
    return out, summary


@pytest.fixture(scope="session")
def sim_db(sim_run: tuple[Path, SimulationSummary]) -> Any:
    out, _ = sim_run
    con = duckdb.connect()
    for t in TABLES:
        con.execute(f"create view {t.name} as select * from '{out}/extracts/{t.name}.parquet'")
    for name in ("monthly_truth", "offer_effects", "traits"):
        con.execute(f"create view {name} as select * from '{out}/truth/{name}.parquet'")
    # month offsets relative to each churner's churn month (k = 1: the month before leaving)
    con.execute("""
        create view before_churn as
        select u.*, c.churn_type,
               datediff('month', strptime(u.bill_month, '%Y-%m'),
                        date_trunc('month', c.churn_date)) as k
        from monthly_usage u join churn_records c using (subscriber_id)""")
    return con
