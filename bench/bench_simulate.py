"""Benchmark the operator simulator against its budget: 1 M lines × 12 months ≤ 90 s, ≤ 6 GiB.

Runs ``weiwan.sim.simulate`` in a child process (so its peak RSS is measured alone) into a
temporary directory, ``--repeat`` times, and reports the median. Exits 1 if a target is missed.

    python bench/bench_simulate.py [--subscribers 1000000] [--months 12] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

TARGET_SECONDS = 90.0
TARGET_RSS_GIB = 6.0
SRC = Path(__file__).resolve().parents[1] / "src"

CHILD = """
import json, sys
from pathlib import Path
from weiwan.sim import simulate
s = simulate(subscribers={subscribers}, months={months}, seed={seed}, out=Path(sys.argv[1]),
             end_month={end_month!r}, fmt={fmt!r}, chunk_size={chunk_size})
print(json.dumps({{"rows": s.rows, "truth_rows": s.truth_rows,
                  "churn_rate": s.monthly_churn_rate}}))
"""


def _run_once(args: argparse.Namespace) -> tuple[float, float, dict[str, Any]]:
    """(wall seconds, peak RSS GiB, child's summary) of one simulation in a child process."""
    code = CHILD.format(
        subscribers=args.subscribers,
        months=args.months,
        seed=args.seed,
        end_month=args.end_month,
        fmt=args.fmt,
        chunk_size=args.chunk_size,
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory(prefix="weiwan-bench-") as out:
        start = time.perf_counter()
        proc = psutil.Popen(
            [sys.executable, "-c", code, out], env=env, stdout=subprocess.PIPE, text=True
        )
        peak = 0
        while proc.poll() is None:
            try:
                peak = max(peak, proc.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            time.sleep(0.05)
        stdout, _ = proc.communicate()
        seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"simulation failed with exit code {proc.returncode}")
    peak = max(peak, _children_max_rss())
    summary: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return seconds, peak / 2**30, summary


def _children_max_rss() -> int:
    """Peak RSS in bytes of any waited-for child (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--end-month", default="2025-12")
    parser.add_argument("--fmt", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--chunk-size", type=int, default=500_000)
    args = parser.parse_args(argv)
    runs = [_run_once(args) for _ in range(args.repeat)]
    seconds = statistics.median(r[0] for r in runs)
    rss = statistics.median(r[1] for r in runs)
    summary = runs[-1][2]
    print(
        f"simulate {args.subscribers:,} subscribers × {args.months} months "
        f"({args.fmt}, chunk {args.chunk_size:,}), median of {args.repeat}"
    )
    for name, count in {**summary["rows"], **summary["truth_rows"]}.items():
        print(f"  {name:<16} {count:>12,} rows")
    print(f"  monthly churn rate {summary['churn_rate']:.4f}")
    scale = args.subscribers * args.months / 12_000_000
    ok_time = seconds <= TARGET_SECONDS * max(scale, 1.0)
    ok_rss = rss <= TARGET_RSS_GIB
    print(
        f"  wall   {seconds:8.1f} s    target ≤ {TARGET_SECONDS * max(scale, 1.0):.0f} s"
        f"   {'ok' if ok_time else 'MISSED'}"
    )
    print(
        f"  peak   {rss:8.2f} GiB  target ≤ {TARGET_RSS_GIB:.0f} GiB"
        f"   {'ok' if ok_rss else 'MISSED'}"
    )
    return 0 if ok_time and ok_rss else 1


if __name__ == "__main__":
    sys.exit(main())
