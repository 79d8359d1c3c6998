"""Benchmark: features + tags + segments on DuckDB (Ibis) against the same features in pandas.

Target (issue 3): features + tags + segments for 1 M subscribers x 12 months in <= 60 s with a
peak RSS <= 4 GiB on DuckDB with 2 threads. The same features written straightforwardly in
pandas (bench/pandas_features.py) run side by side in the same invocation; the table shows
medians of --repeat runs and the ratio pandas / ibis. Every run is a fresh child process that
reports its own timings and peak RSS; the engines alternate (ibis first on even repeats, pandas
first on odd ones). The first pandas run also checks that pandas and ibis agree (about 20 numeric
columns, plus the status and flags) so that both sides do the same work.

The simulated extracts and the ingested warehouse are cached under var/bench/ and only rebuilt
when missing. The ibis runs store features, tags and segments in that warehouse (tables
``features``, ``tags``, ``segments``; dropped before each run so every run does the same work).
Exits 1 when the DuckDB target is missed or pandas and ibis disagree.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = date(2026, 10, 31)
END_MONTH = "2026-10"
TARGET_SECONDS = 60.0
TARGET_RSS_GIB = 4.0
THREADS = 2
MEMORY_LIMIT = "2GB"
OUTPUTS = ("features", "tags", "segments")
#: Columns compared between pandas and ibis: numeric features from every part of features.py.
CHECK_NUMERIC = (
    "tenure_months",
    "age",
    "device_age_months",
    "months_to_contract_end",
    "plan_monthly_fee",
    "arpu_1m",
    "bill_mean_3m",
    "bill_mean_6m",
    "bill_trend_3m",
    "voice_trend_3m",
    "data_mean_6m",
    "sms_trend_3m",
    "offnet_share_change_3m",
    "competitor_calls_3m",
    "zero_usage_days_1m",
    "balance_1m",
    "recharge_months_6m",
    "contacts_trend_3m",
    "usage_months",
    "suspensions_90d",
    "days_since_suspension",
    "plan_changes_180d",
    "complaints_high_90d",
    "complaints_unresolved",
    "last_survey_score",
    "low_scores_180d",
    "retention_offers_180d",
    "days_since_retention_offer",
)
CHECK_OTHER = ("status", "call_forwarding_active", "in_contract", "is_prepaid")
#: ATOL: the product stores floats rounded to ``analytics.features.FLOAT_DIGITS`` decimals (the
#: same data gives the same features whatever the summation order), the pandas reference does
#: not round: they may differ by half a unit in that last decimal (FLOAT_DIGITS = 6)
RTOL, ATOL = 1e-6, 0.5e-6 + 1e-9


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB


def _optional(module: str, *names: str) -> list[Callable[..., Any]] | None:
    """Functions from a module that may not exist yet (tags and segments are being written)."""
    try:
        loaded = importlib.import_module(module)
        return [getattr(loaded, name) for name in names]
    except (ImportError, AttributeError):
        return None


# --- children -----------------------------------------------------------------------------


def child_ibis(warehouse_path: Path) -> dict[str, Any]:
    """Features, then tags and segments over the stored features, each stage timed."""
    warehouse_cls = importlib.import_module("weiwan.analytics.warehouse").Warehouse
    compute_features = importlib.import_module("weiwan.analytics.features").compute_features
    tags = _optional("weiwan.analytics.tags", "load_tag_library", "compute_tags")
    segments = _optional("weiwan.analytics.segments", "load_segment_config", "compute_segments")

    seconds: dict[str, float] = {}
    notes: list[str] = []
    start = time.perf_counter()
    wh = warehouse_cls(warehouse_path, threads=THREADS, memory_limit=MEMORY_LIMIT)
    seconds["connect"] = time.perf_counter() - start
    for name in OUTPUTS:  # untimed: every run creates its tables afresh
        wh.execute(f'DROP TABLE IF EXISTS "{name}"')
    wh.execute("CHECKPOINT")

    start = time.perf_counter()
    rows = wh.replace_snapshot("features", compute_features(wh, SNAPSHOT), SNAPSHOT)
    seconds["features"] = time.perf_counter() - start
    stored = wh.table("features")
    stored = stored.filter(stored.snapshot_date == SNAPSHOT)

    if tags is None:
        notes.append("tags: skipped (weiwan.analytics.tags has no load_tag_library/compute_tags)")
    else:
        load_tag_library, compute_tags = tags
        start = time.perf_counter()
        library = load_tag_library()
        result = compute_tags(stored, library)
        wh.replace_snapshot("tags", result.table, SNAPSHOT)
        seconds["tags"] = time.perf_counter() - start
        problems = [*library.errors, *result.errors]
        notes.append(
            f"tags: {len(result.table.columns) - 2} tags computed"
            + (f", {len(problems)} tag problems, first: {problems[0]}" if problems else "")
        )
    if segments is None:
        notes.append("segments: skipped (weiwan.analytics.segments lacks compute_segments)")
    else:
        load_segment_config, compute_segments = segments
        start = time.perf_counter()
        wh.replace_snapshot("segments", compute_segments(stored, load_segment_config()), SNAPSHOT)
        seconds["segments"] = time.perf_counter() - start
    wh.close()
    return {"seconds": seconds, "rows": rows, "peak_rss_gib": _peak_rss_gib(), "notes": notes}


def child_pandas(warehouse_path: Path, check: bool) -> dict[str, Any]:
    """The pandas features (read and compute timed apart); optionally compare with ibis."""
    from pandas_features import pandas_features

    timings: dict[str, float] = {}
    features = pandas_features(warehouse_path, SNAPSHOT, timings)
    report: dict[str, Any] = {
        "seconds": timings,
        "rows": len(features),
        "peak_rss_gib": _peak_rss_gib(),  # before the check loads the ibis result
        "notes": [],
    }
    if check:
        report["check"] = compare_with_ibis(features, warehouse_path)
    return report


def compare_with_ibis(features: Any, warehouse_path: Path) -> dict[str, Any]:
    """Differences between the pandas features and the ``features`` table ibis stored."""
    import duckdb
    import numpy as np

    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        stored = con.execute("SELECT * FROM features WHERE snapshot_date = ?", [SNAPSHOT]).df()
    finally:
        con.close()
    ibis_rows = stored.set_index("subscriber_id").sort_index()
    pandas_rows = features.set_index("subscriber_id").sort_index()
    problems: list[str] = []
    missing = sorted(set(ibis_rows.columns) ^ set(pandas_rows.columns))
    if missing:
        problems.append(f"columns in only one result: {', '.join(missing)}")
    if not ibis_rows.index.equals(pandas_rows.index):
        only_ibis = ibis_rows.index.difference(pandas_rows.index)
        only_pandas = pandas_rows.index.difference(ibis_rows.index)
        problems.append(
            f"subscribers differ: {len(only_ibis)} only in ibis, {len(only_pandas)} only in "
            f"pandas (e.g. {[*only_ibis[:3], *only_pandas[:3]]})"
        )
        common = ibis_rows.index.intersection(pandas_rows.index)
        ibis_rows, pandas_rows = ibis_rows.loc[common], pandas_rows.loc[common]
    compared = 0
    for column in (*CHECK_NUMERIC, *CHECK_OTHER):
        if column not in ibis_rows.columns or column not in pandas_rows.columns:
            continue
        compared += 1
        left, right = ibis_rows[column], pandas_rows[column]
        left_null, right_null = left.isna().to_numpy(), right.isna().to_numpy()
        if (left_null != right_null).any():
            where = ibis_rows.index[left_null != right_null]
            problems.append(
                f"{column}: NULL in different places for {len(where):,} subscribers, "
                f"e.g. {list(where[:3])}"
            )
            continue
        if column in CHECK_NUMERIC:
            a = left[~left_null].to_numpy(dtype="float64")
            b = right[~right_null].to_numpy(dtype="float64")
            bad = ~np.isclose(a, b, rtol=RTOL, atol=ATOL)
        else:
            bad = left[~left_null].to_numpy() != right[~right_null].to_numpy()
        if bad.any():
            where = ibis_rows.index[~left_null][bad]
            sample = [f"{key}: ibis {left.loc[key]} pandas {right.loc[key]}" for key in where[:3]]
            problems.append(f"{column}: {int(bad.sum()):,} values differ, e.g. {sample}")
    return {"columns": compared, "rows": len(ibis_rows), "problems": problems}


# --- parent -------------------------------------------------------------------------------


def _weiwan(args: list[str], home: Path, warehouse: Path | None = None) -> None:
    env = {**os.environ, "WEIWAN_HOME": str(home)}
    if warehouse is not None:
        env["WEIWAN_WAREHOUSE_PATH"] = str(warehouse)
    proc = subprocess.run(
        [sys.executable, "-m", "weiwan", *args], env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        sys.exit(f"failed: weiwan {' '.join(args)}\n{proc.stderr[-4000:]}")


def prepare(cache: Path, subscribers: int, months: int) -> Path:
    """The cached warehouse for this size, simulating and ingesting only what is missing."""
    cache.mkdir(parents=True, exist_ok=True)
    sim = cache / f"sim-{subscribers}-{months}"
    warehouse = cache / f"warehouse-{subscribers}-{months}.duckdb"
    if warehouse.exists():
        return warehouse
    if not (sim / "extracts" / "monthly_usage.parquet").exists():
        shutil.rmtree(sim, ignore_errors=True)
        print(f"simulating {subscribers:,} x {months} months into {sim} (cached) ...", flush=True)
        size = ["--subscribers", str(subscribers), "--months", str(months), "--seed", "7"]
        _weiwan(
            ["simulate", *size, "--end-month", END_MONTH, "--out", str(sim)],
            cache,
        )
    print(f"ingesting {sim} into {warehouse} (cached) ...", flush=True)
    partial = warehouse.with_name(warehouse.name + ".partial")
    home = cache / f"home-{subscribers}-{months}"
    partial.unlink(missing_ok=True)
    shutil.rmtree(home, ignore_errors=True)
    _weiwan(["ingest", str(sim), "--snapshot", SNAPSHOT.isoformat()], home, partial)
    partial.rename(warehouse)
    return warehouse


def run_child(engine: str, warehouse: Path, check: bool = False) -> dict[str, Any]:
    args = [sys.executable, str(Path(__file__).resolve()), "--child", engine]
    args += ["--warehouse", str(warehouse)] + (["--check"] if check else [])
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{engine} run failed:\n{proc.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    report["wall"] = wall
    return report


def _median(runs: list[dict[str, Any]], stage: str) -> float | None:
    values = [r["seconds"][stage] for r in runs if stage in r["seconds"]]
    return statistics.median(values) if values else None


def _cell(value: float | None, width: int = 12) -> str:
    return f"{'—' if value is None else f'{value:.1f}':>{width}}"


def _ratio(pandas_s: float | None, ibis_s: float | None) -> str:
    if pandas_s is None or not ibis_s:
        return f"{'—':>12}"
    return f"{pandas_s / ibis_s:>11.1f}x"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--child", choices=("ibis", "pandas"), help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    opts = parser.parse_args()

    if opts.child:  # inside a child: do one run, print its report as JSON
        if opts.child == "ibis":
            report = child_ibis(opts.warehouse)
        else:
            report = child_pandas(opts.warehouse, opts.check)
        print(json.dumps(report))
        return 0

    warehouse = prepare(opts.cache, opts.subscribers, opts.months)
    ibis_runs: list[dict[str, Any]] = []
    pandas_runs: list[dict[str, Any]] = []
    check: dict[str, Any] = {}
    for repeat in range(opts.repeat):
        order = ("ibis", "pandas") if repeat % 2 == 0 else ("pandas", "ibis")
        for engine in order:
            print(f"  run {repeat + 1}/{opts.repeat}: {engine} ...", flush=True)
            if engine == "ibis":
                ibis_runs.append(run_child("ibis", warehouse))
            else:  # the first pandas run follows an ibis run: it checks agreement
                report = run_child("pandas", warehouse, check=not pandas_runs)
                check = report.pop("check", check)
                pandas_runs.append(report)

    stages = [s for s in ("connect", "features", "tags", "segments") if _median(ibis_runs, s)]
    ibis_total = statistics.median(sum(r["seconds"].values()) for r in ibis_runs)
    ibis_features = statistics.median(
        r["seconds"]["connect"] + r["seconds"]["features"] for r in ibis_runs
    )
    read, compute = _median(pandas_runs, "read"), _median(pandas_runs, "compute")
    pandas_total = statistics.median(sum(r["seconds"].values()) for r in pandas_runs)
    ibis_rss = max(r["peak_rss_gib"] for r in ibis_runs)
    pandas_rss = max(r["peak_rss_gib"] for r in pandas_runs)

    print()
    print(
        f"features + tags + segments: {opts.subscribers:,} subscribers x {opts.months} months, "
        f"snapshot {SNAPSHOT}, {ibis_runs[0]['rows']:,} feature rows"
    )
    print(
        f"median of {opts.repeat} run(s) per engine, each in a fresh process, engines alternating;"
        f" DuckDB threads={THREADS}, memory_limit={MEMORY_LIMIT}; {os.cpu_count()} CPUs"
    )
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print()
    head = f"{'stage':<34}{'ibis/DuckDB s':>14}{'pandas s':>12}{'pandas÷ibis':>12}"
    print(head)
    print("-" * len(head))
    labels = {
        "connect": "open warehouse",
        "features": "features (compute + store)",
        "tags": "tags (compute + store)",
        "segments": "segments (compute + store)",
    }
    print(f"{'read tables into DataFrames':<34}{_cell(None, 14)}{_cell(read)}{_cell(None)}")
    for stage in stages:
        pandas_s = compute if stage == "features" else None
        label = labels[stage] + (" / compute" if stage == "features" else "")
        ibis_s = _median(ibis_runs, stage)
        print(f"{label:<34}{_cell(ibis_s, 14)}{_cell(pandas_s)}{_ratio(pandas_s, ibis_s)}")
    print(
        f"{'features, end to end':<34}{_cell(ibis_features, 14)}{_cell(pandas_total)}"
        f"{_ratio(pandas_total, ibis_features)}"
    )
    print(f"{'total, all stages it ran':<34}{_cell(ibis_total, 14)}{_cell(pandas_total)}{'':>12}")
    print(f"{'peak RSS GiB (max over runs)':<34}{ibis_rss:>14.2f}{pandas_rss:>12.2f}")
    print()
    print(
        "pandas: features only (read + compute, result kept in memory, not stored); tags and "
        "segments are not written in pandas."
    )
    for note in ibis_runs[-1]["notes"]:
        print(f"ibis:   {note}")
    if check["problems"]:
        print(f"pandas and ibis DISAGREE ({check['columns']} columns compared):")
        for problem in check["problems"]:
            print(f"  - {problem}")
    else:
        print(
            f"pandas and ibis agree on {check['columns']} columns "
            f"({len(CHECK_NUMERIC)} numeric within {RTOL:g} relative / {ATOL:g} absolute, "
            f"NULLs in the same places) over {check['rows']:,} subscribers"
        )
    full = all(s in stages for s in ("features", "tags", "segments"))
    time_ok, rss_ok = ibis_total <= TARGET_SECONDS, ibis_rss <= TARGET_RSS_GIB
    print()
    print(
        f"target DuckDB {'features + tags + segments' if full else ' + '.join(stages[1:])}"
        f" <= {TARGET_SECONDS:.0f} s: {ibis_total:.1f} s  {'met' if time_ok else 'MISSED'}"
    )
    print(
        f"target DuckDB peak RSS <= {TARGET_RSS_GIB:.0f} GiB: {ibis_rss:.2f} GiB  "
        f"{'met' if rss_ok else 'MISSED'}"
    )
    return 0 if time_ok and rss_ok and not check["problems"] else 1


if __name__ == "__main__":
    sys.exit(main())
