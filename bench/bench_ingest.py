"""Benchmark: ingest a simulated operator (default 1 M subscribers x 12 months) into DuckDB.

Target (issue 2): ≤ 60 s. Prints rows, wall seconds (median of --repeat fresh loads), the
child's peak RSS and the time of an unchanged re-ingest (idempotent skip). Exits 1 on a miss.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 60.0


def _run(args: list[str], home: Path) -> tuple[float, str]:
    env = {"WEIWAN_HOME": str(home), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src")}
    passed = {k: v for k, v in os.environ.items() if k.startswith("WEIWAN_")}
    env = {**passed, **env}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "weiwan", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{proc.stderr}")
    return elapsed, proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "bench")
    opts = parser.parse_args()

    sim = opts.cache / f"sim-{opts.subscribers}-{opts.months}"
    if not (sim / "extracts" / "monthly_usage.parquet").exists():
        shutil.rmtree(sim, ignore_errors=True)
        print(f"simulating {opts.subscribers:,} x {opts.months} into {sim} (cached) ...")
        _run(
            [
                "simulate",
                "--subscribers",
                str(opts.subscribers),
                "--months",
                str(opts.months),
                "--seed",
                "7",
                "--end-month",
                "2026-10",
                "--out",
                str(sim),
            ],
            opts.cache,
        )
    args = ["ingest", str(sim), "--snapshot", "2026-10-31", "--json"]
    seconds: list[float] = []
    rerun: list[float] = []
    summary: dict[str, dict[str, int]] = {}
    for _ in range(opts.repeat):
        with tempfile.TemporaryDirectory(dir=opts.cache) as home:
            elapsed, stdout = _run(args, Path(home))
            seconds.append(elapsed)
            summary = json.loads(stdout)["tables"]
            rerun.append(_run(args, Path(home))[0])
    peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    rows = sum(t["rows"] for t in summary.values())
    median = statistics.median(seconds)
    print(f"ingest {opts.subscribers:,} subscribers x {opts.months} months")
    for name, t in summary.items():
        print(f"  {name:<16} {t['loaded']:>12,} loaded {t['quarantined']:>8,} quarantined")
    print(f"  rows             {rows:>12,}")
    print(
        f"  wall seconds     {median:>12.1f}  "
        f"(median of {len(seconds)}; target <= {TARGET_SECONDS:.0f})"
    )
    print(f"  rows per second  {rows / median:>12,.0f}")
    print(f"  re-ingest, same  {statistics.median(rerun):>12.1f} s  (unchanged: skipped)")
    print(f"  peak RSS         {peak_gib:>12.2f} GiB  (largest child)")
    return 0 if median <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
