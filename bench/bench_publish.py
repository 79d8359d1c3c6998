"""Benchmark: publishing a snapshot into PostgreSQL (policies, contact rules, customer view,
decisions), 1 M subscribers, 2 cores.

Uses the warehouse bench/bench_features.py prepares (var/bench/warehouse-N-M.duckdb, DuckDB
threads=2, memory_limit=2GB as the other stage benchmarks) with the profile and decisions of
the snapshot that bench/bench_targets.py and bench/bench_decisions.py store; when they are
missing it says which benchmark to run first. A throw-away PostgreSQL 15 server is started
(bench/pg_server.py, fsync off) and migrated to head.

1. ``publish`` of every kind, median of --repeat: seconds per kind, rows/s of the customer view
   and decisions, each run re-publishing the same date (the steady state: the previous rows
   are deleted in the same transaction);
2. one customer view publish split into its parts: staging the rows in DuckDB (the Ibis
   expression: profile ⨝ subscribers ⨝ eligibility, tags, reasons) and the load into
   PostgreSQL (DELETE + COPY of Arrow-written CSV);
3. peak RSS of the process (DuckDB included) and the table sizes in PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from pg_server import pg_server
from stages import header, line, load_average, peak_rss_gib, runs, timed
from weiwan.analytics.policies import load_policies
from weiwan.analytics.profile import load_profile
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.db import make_engine
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.migrate import upgrade
from weiwan.pipeline.publish import KINDS, PublishResult, publish
from weiwan.pipeline.publish.customers import customer_rows, with_branch_ids
from weiwan.pipeline.publish.transport import copy_batches, record_batches, table_of

ROOT = Path(__file__).resolve().parents[1]
THREADS = 2
MEMORY_LIMIT = "2GB"


def _open(path: Path) -> Warehouse:
    try:
        return Warehouse(path, threads=THREADS, memory_limit=MEMORY_LIMIT)
    except Exception as exc:  # DuckDB allows one writer: another process may hold the file
        sys.exit(f"cannot open {path}: {exc}")


def _check(warehouse: Warehouse, snapshot: date) -> int:
    if not warehouse.has_table("profile"):
        sys.exit("the warehouse has no profile: run bench/bench_targets.py first")
    rows = int(load_profile(warehouse, snapshot).count().execute())
    if not rows:
        sys.exit(f"no profile rows for {snapshot}: run bench/bench_targets.py first")
    if not warehouse.has_table("decisions"):
        print("  (no decisions table: run bench/bench_decisions.py to publish decisions too)")
    return rows


def measure(warehouse: Warehouse, engine: sa.Engine, snapshot: date, repeat: int) -> None:
    """1. Every kind, median of ``repeat`` runs."""
    header(f"1. publish (every kind), median of {repeat}")
    results: list[PublishResult] = []
    totals: list[float] = []
    for _ in range(max(1, repeat)):
        result, seconds = timed(lambda: publish(warehouse, engine, snapshot))
        results.append(result)
        totals.append(seconds)
    for kind in KINDS:
        times = [r.seconds[kind] for r in results]
        rows = results[-1].rows[kind]
        median = statistics.median(times)
        rate = f"{rows / median:,.0f} rows/s; " if rows > 1 else ""
        line(kind, rows, median, rate + runs(times), digits=2)
    line("publish (all kinds)", None, statistics.median(totals), runs(totals), digits=2)


def parts(warehouse: Warehouse, engine: sa.Engine, snapshot: date) -> None:
    """2. The customer view: stage in DuckDB, then DELETE + COPY into PostgreSQL."""
    header("2. the customer view in parts")
    profile = load_profile(warehouse, snapshot)
    library = load_policies(profile=profile)
    source = customer_rows(warehouse, profile, library, snapshot)
    with engine.connect() as conn:
        ids = {str(c): int(i) for c, i in conn.execute(sa.text("SELECT code, id FROM branches"))}
    rows = with_branch_ids(source, ids)
    staged = "_bench_publish_customer_view"

    def stage() -> int:
        warehouse.con.create_table(staged, rows, temp=True, overwrite=True)
        return int(warehouse.execute(f"SELECT count(*) FROM {staged}")[0][0])

    count, seconds = timed(stage)
    line("stage rows in DuckDB (Ibis expression)", count, seconds, digits=2)
    table = table_of(CustomerView)

    def read() -> int:
        return sum(b.num_rows for b in record_batches(warehouse, staged))

    count, seconds = timed(read)
    line("read staged rows as Arrow batches", count, seconds, digits=2)

    def load() -> int:
        with engine.begin() as conn:
            conn.execute(sa.delete(table))
            return copy_batches(conn, table, record_batches(warehouse, staged))

    count, seconds = timed(load)
    line("DELETE + COPY (Arrow CSV) + commit", count, seconds, f"{count / seconds:,.0f} rows/s", 2)
    warehouse.execute(f"DROP TABLE IF EXISTS {staged}")


def sizes(engine: sa.Engine) -> None:
    print(flush=True)
    print("3. PostgreSQL table sizes (with indexes, incl. dead rows of earlier runs)")
    with engine.connect() as conn:
        for name in ("customer_view", "decisions", "policies", "branches"):
            size = conn.execute(
                sa.text("SELECT pg_size_pretty(pg_total_relation_size(CAST(:t AS regclass)))"),
                {"t": name},
            ).scalar_one()
            print(f"  {name:<16}{size:>12}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--snapshot", type=date.fromisoformat, default=date(2026, 10, 31))
    opts = parser.parse_args()
    path = ROOT / "var" / "bench" / f"warehouse-{opts.subscribers}-{opts.months}.duckdb"
    if not path.exists():
        sys.exit(f"{path} is missing: run bench/bench_features.py first")
    print(
        f"publish, {opts.subscribers:,} subscribers x {opts.months} months, snapshot "
        f"{opts.snapshot}, warehouse {path.name}"
    )
    print(
        f"DuckDB threads={THREADS}, memory_limit={MEMORY_LIMIT}; {os.cpu_count()} CPUs; "
        f"load average at the start: {load_average()}"
    )
    warehouse = _open(path)
    try:
        profile_rows = _check(warehouse, opts.snapshot)
        print(f"  profile rows of {opts.snapshot}: {profile_rows:,}")
        with pg_server("shared_buffers=512MB", "max_wal_size=4GB") as url:
            engine = make_engine(url)
            try:
                upgrade(engine)
                measure(warehouse, engine, opts.snapshot, opts.repeat)
                parts(warehouse, engine, opts.snapshot)
                sizes(engine)
            finally:
                engine.dispose()
    finally:
        warehouse.close()
    print(flush=True)
    print(f"peak RSS of the process: {peak_rss_gib():.2f} GiB")
    print(f"load average at the end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
