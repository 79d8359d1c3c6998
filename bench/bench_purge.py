"""Benchmark: ``weiwan purge`` (the retention purge) for N subscribers' worth of history, 2 cores.

Target (docs/privacy.md): 1 M subscribers purged in ≤ 10 minutes.

A throw-away PostgreSQL 15 server (bench/pg_server.py, fsync off) migrated to head, and a
DuckDB warehouse (threads=2, memory_limit=2GB like the other stage benchmarks), filled with
synthetic history spread over the past years so that a share of each kind is past its default
period (core/retention.yaml):

- ops ``contacts`` 2 per subscriber (1 and 4 years old, with a note: the old half is blanked),
  ``sms_messages`` 1 (0–23 months old, about half past 12 months), ``events`` 1 (same),
  ``audit_events`` 1 and ``decisions`` 1 (0–47 months old, a quarter past 36 months);
- warehouse ``monthly_usage`` --months bill months per subscriber (the ones past 24 months go)
  and ``status_events`` 2 per subscriber (6 and 18 months old: half past 12 months).

Then ``purge --dry-run`` (counting) and the purge itself, in both databases, as ``weiwan purge``
runs them: rows per table and kind, seconds, peak RSS of this process (the PostgreSQL server's
memory is its own). Filling the databases is not timed into the purge.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from pg_server import pg_server
from stages import header, line, load_average, peak_rss_gib, timed
from weiwan.analytics.privacy import purge as purge_warehouse
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.db import make_engine
from weiwan.core.retention import load_rules
from weiwan.ops.migrate import upgrade
from weiwan.ops.privacy.purge import purge_ops

THREADS = 2
MEMORY_LIMIT = "2GB"

#: synthetic ops history: every statement takes :n (subscribers); times relative to now()
OPS_FILL = (
    """INSERT INTO contacts (id, subscriber_id, at, channel, status, note)
       SELECT g, 'S' || lpad((g % :n)::text, 8, '0'),
              now() - CASE WHEN g <= :n THEN interval '1 year' ELSE interval '4 years' END,
              'outbound_call', 'sent', '客户说了一些私事 ' || g
       FROM generate_series(1, 2 * :n) g""",
    """INSERT INTO sms_messages (subscriber_id, msisdn, body, language, segments, contact_id,
                                status, purpose, created_at)
       SELECT 'S' || lpad(g::text, 8, '0'), '138' || lpad(g::text, 8, '0'),
              '尊敬的客户，您的流量包 ' || g, 'zh', 1, g, 'sent', 'marketing',
              now() - (g % 24) * interval '1 month' - interval '1 day'
       FROM generate_series(1, :n) g""",
    """INSERT INTO events (source, event_id, subscriber_id, msisdn, type, occurred_at,
                          attributes, received_at, status)
       SELECT 'crm', 'ev' || g, 'S' || lpad(g::text, 8, '0'), '138' || lpad(g::text, 8, '0'),
              'complaint', now() - (g % 24) * interval '1 month' - interval '1 day',
              '{"text": "信号差"}', now() - (g % 24) * interval '1 month' - interval '1 day',
              'processed'
       FROM generate_series(1, :n) g""",
    """INSERT INTO audit_events (at, action, target_type, target_id, detail)
       SELECT now() - (g % 48) * interval '1 month' - interval '1 day', 'pii_view', 'customer',
              'S' || lpad(g::text, 8, '0'), '{"field": "msisdn"}'
       FROM generate_series(1, :n) g""",
    """INSERT INTO decisions (snapshot_date, subscriber_id, holdout, action, channel)
       SELECT (now() - (g % 48) * interval '1 month' - interval '1 day')::date,
              'S' || lpad(g::text, 8, '0'), false, true, 'sms'
       FROM generate_series(1, :n) g""",
)


def _fill_ops(url: str, n: int) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            for statement in OPS_FILL:
                conn.execute(sa.text(statement), {"n": n})
            conn.execute(sa.text("ANALYZE"))
    finally:
        engine.dispose()


def _fill_warehouse(wh: Warehouse, n: int, months: int, today: date) -> None:
    first = date(today.year, today.month, 1)
    wh.execute(
        "INSERT INTO monthly_usage (subscriber_id, bill_month, bill_amount, _snapshot, _line) "
        "SELECT 'S' || lpad(s::VARCHAR, 8, '0'), "
        "CAST(? - to_months(CAST(m AS INTEGER)) AS DATE), 96.0, ?, s "
        "FROM range(?) t(s), range(?) u(m)",
        [first, today, n, months],
    )
    wh.execute(
        "INSERT INTO status_events (subscriber_id, event_time, event_type, _snapshot, _line) "
        "SELECT 'S' || lpad(s::VARCHAR, 8, '0'), "
        "CAST(? AS TIMESTAMP) - to_months(CAST(6 + 12 * k AS INTEGER)), 'suspend', ?, s "
        "FROM range(?) t(s), range(2) u(k)",
        [today, today, n],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=30, help="bill months per subscriber")
    args = parser.parse_args()
    n, today = args.subscribers, date.today()
    rules = load_rules(None)
    work = Path(tempfile.mkdtemp(prefix="weiwan-bench-purge-"))
    try:
        with pg_server() as url:
            header(f"purge, {n:,} subscribers ({load_average()} load)")
            _, seconds = timed(lambda: _fill_ops(url, n))
            line("fill PostgreSQL (not part of the purge)", 6 * n, seconds)
            wh = Warehouse(work / "warehouse.duckdb", threads=THREADS, memory_limit=MEMORY_LIMIT)
            try:
                _, seconds = timed(lambda: _fill_warehouse(wh, n, args.months, today))
                line("fill warehouse (not part of the purge)", (args.months + 2) * n, seconds)
                engine = make_engine(url)
                try:
                    dry, seconds = timed(
                        lambda: (
                            purge_ops(engine, rules, today, dry_run=True)
                            + purge_warehouse(wh, rules, today, dry_run=True)
                        )
                    )
                    line("dry run (count)", sum(c.rows for c in dry), seconds)
                    done, ops_seconds = timed(lambda: purge_ops(engine, rules, today))
                    line("purge PostgreSQL", sum(c.rows for c in done), ops_seconds)
                    stored, wh_seconds = timed(lambda: purge_warehouse(wh, rules, today))
                    line("purge warehouse", sum(c.rows for c in stored), wh_seconds)
                finally:
                    engine.dispose()
            finally:
                wh.close()
        print()
        for c in [*done, *stored]:
            if c.rows:
                print(f"  {c.store + '.' + c.table:<28} {c.kind:<12} {c.action:<10} {c.rows:>12,}")
        total = ops_seconds + wh_seconds
        print(
            f"\n  total purge {total:.1f} s for {n:,} subscribers "
            f"(target ≤ 600 s at 1 M), peak RSS {peak_rss_gib():.2f} GiB"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
