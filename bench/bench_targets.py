"""Benchmark: the whole daily pipeline run on 1 M subscribers, then target-selection previews.

Uses the warehouse bench/bench_features.py prepares (var/bench/warehouse-N-M.duckdb). Prints the
seconds of each pipeline step, then count + 20 sample rows for several filters (median of 5),
against the target "well under a second"; exits 1 when a preview takes 1 s or more.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from weiwan.analytics.churn.registry import ModelRegistry
from weiwan.analytics.profile import load_profile
from weiwan.analytics.targets import preview
from weiwan.analytics.warehouse import Warehouse
from weiwan.pipeline.run import STEPS, run_step
from weiwan.pipeline.steps import RunContext

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = date(2026, 10, 31)
FILTERS: dict[str, dict[str, Any]] = {
    "one field": {"field": "arpu_1m", "op": ">=", "value": 100},
    "tier + tag": {
        "all": [
            {"field": "value_tier", "op": "in", "value": ["diamond", "gold"]},
            {"tag": "competitor_service_caller"},
        ]
    },
    "nested any/not": {
        "any": [
            {"all": [{"tag": "is_prepaid"}, {"field": "balance_1m", "op": "<", "value": 5}]},
            {"not": {"field": "lifecycle_stage", "op": "in", "value": ["maturity", "growth"]}},
        ]
    },
    "rare": {
        "all": [
            {"field": "clv_quadrant", "op": "=", "value": "retain_with_added_value"},
            {"field": "competitor_calls_3m", "op": ">=", "value": 3},
            {"field": "months_to_contract_end", "op": "between", "value": [0, 2]},
        ]
    },
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=5)
    opts = parser.parse_args()
    path = ROOT / "var" / "bench" / f"warehouse-{opts.subscribers}-{opts.months}.duckdb"
    if not path.exists():
        sys.exit(f"{path} is missing: run bench/bench_features.py first")
    warehouse = Warehouse(path, threads=2, memory_limit="2GB")
    try:
        print(f"pipeline run, {opts.subscribers:,} subscribers x {opts.months} months, {SNAPSHOT}")
        total = 0.0
        registry = ModelRegistry(path.parent / f"models-{opts.subscribers}-{opts.months}")
        context = RunContext(warehouse, SNAPSHOT, registry)
        for name, step in STEPS:
            start = time.perf_counter()
            rows = run_step(context, name, step)  # scores: trains and promotes a model first
            elapsed = time.perf_counter() - start
            total += elapsed
            print(f"  {name:<16} {rows:>12,} rows {elapsed:>8.1f} s")
        print(f"  {'total':<16} {'':>12} {total:>13.1f} s")
        print(f"target preview (count + 20 rows), median of {opts.repeat}; target < 1 s")
        worst = 0.0
        for label, spec in FILTERS.items():
            times = []
            for _ in range(opts.repeat):
                start = time.perf_counter()
                count, _rows = preview(load_profile(warehouse, SNAPSHOT), spec, 20)
                times.append(time.perf_counter() - start)
            median = statistics.median(times)
            worst = max(worst, median)
            print(f"  {label:<16} {count:>12,} match {median * 1000:>8.0f} ms")
    finally:
        warehouse.close()
    return 0 if worst < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
