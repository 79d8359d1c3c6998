"""Benchmark: the alerts and decisions (next best action) steps on 1 M subscribers, 2 cores.

Target (issue): alerts + decisions for 1 M subscribers <= 60 s on 2 cores. Uses the warehouse
bench/bench_features.py prepares (var/bench/warehouse-N-M.duckdb, DuckDB threads=2,
memory_limit=2GB as bench/bench_targets.py) and the model registry bench_targets.py uses,
var/bench/models-N-M.

1. the steps before the alerts: when the snapshot's ``profile`` has no rows or no
   ``churn_probability``, every earlier pipeline step (features … profile, target_groups) is
   run in a child process (the scores step trains and promotes a model on the first run), so
   its memory does not count in the peak RSS below; otherwise the stored results are reused;
2. the alerts step (``alerts_step`` + ``replace_snapshot("alerts", …)``), then the decisions
   step (``decisions_step`` + ``replace_snapshot("decisions", …)``), as ``run_pipeline`` runs
   them: first with the uplift's stored evidence dropped (a newly promoted model's first day:
   every evidence day scored and explained), then --repeat times as a later day runs (the
   evidence kept, median); the alerts and the slower of the two are checked against the target;
3. one run broken into its parts (alert context + rules to Arrow, the decisions step's inputs,
   then ``decide_day`` itself with a stage timer: its ``DAY_STAGES``, then storing), checked
   to give the same decisions as the step;
4. the rows: alerts fired, decisions, actions, per trigger kind and outcome, and the peak RSS.

Exits 1 when the target is missed. The machine is shared: quote medians and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import ibis
import pandas as pd
import pyarrow as pa

from stages import header, line, load_average, peak_rss_gib, runs, timed
from weiwan.analytics.alerts import fired_once
from weiwan.analytics.churn.registry import ModelRegistry
from weiwan.analytics.decide.day import DECISION_SCHEMA
from weiwan.analytics.profile import load_profile
from weiwan.analytics.uplift_evidence import EVIDENCE_TABLE
from weiwan.analytics.warehouse import Warehouse
from weiwan.pipeline.decision_steps import (
    alerts_step,
    decide,
    decision_inputs,
    decisions_step,
    earlier_alerts,
    fired_alerts,
)
from weiwan.pipeline.run import STEPS, run_step
from weiwan.pipeline.steps import RunContext

ROOT = Path(__file__).resolve().parents[1]
THREADS = 2
MEMORY_LIMIT = "2GB"
TARGET = 60.0
MEASURED = ("alerts", "decisions")

T = TypeVar("T")


def line2(stage: str, rows: int | None, seconds: float, note: str = "") -> None:
    """A stage line with seconds to two decimals (these steps take seconds, not minutes)."""
    line(stage, rows, seconds, note, digits=2)


def _open(path: Path) -> Warehouse:
    try:
        return Warehouse(path, threads=THREADS, memory_limit=MEMORY_LIMIT)
    except Exception as exc:  # DuckDB allows one writer: another process may hold the file
        sys.exit(f"cannot open {path}: {exc}")


def _registry(opts: argparse.Namespace) -> ModelRegistry:
    return ModelRegistry(ROOT / "var" / "bench" / f"models-{opts.subscribers}-{opts.months}")


# ----------------------------------------------------------------------------- 1. prepare


def _profile_state(warehouse: Warehouse, snapshot: date) -> str | None:
    """None when the snapshot's profile has rows and scores, else what is missing."""
    if not warehouse.has_table("profile"):
        return "no profile table"
    profile = load_profile(warehouse, snapshot)
    rows = int(profile.count().execute())
    if not rows:
        return f"no profile rows for {snapshot}"
    if "churn_probability" not in profile.columns:
        return f"profile of {snapshot} ({rows:,} rows) has no churn_probability"
    return None


def prepare(opts: argparse.Namespace, path: Path) -> None:
    """(Child process) every step before the alerts, as bench_targets.py runs them."""
    warehouse = _open(path)
    try:
        context = RunContext(warehouse, opts.snapshot, _registry(opts))
        total = 0.0
        print(f"  {'step':<16}{'rows':>12}{'seconds':>10}")
        for name, step in STEPS:
            if name in MEASURED:
                break
            start = time.perf_counter()
            rows = run_step(context, name, step)  # scores: trains and promotes a model first
            elapsed = time.perf_counter() - start
            total += elapsed
            print(f"  {name:<16}{rows:>12,}{elapsed:>10.1f}", flush=True)
        print(f"  {'total':<16}{'':>12}{total:>10.1f}")
    finally:
        warehouse.close()


def ensure_profile(opts: argparse.Namespace, path: Path) -> None:
    """1. Reuse the stored steps before the alerts, or run them in a child process."""
    warehouse = _open(path)
    try:
        missing = _profile_state(warehouse, opts.snapshot)
    finally:
        warehouse.close()
    if missing is None:
        print(f"1. steps before the alerts: reused (profile of {opts.snapshot} has scores)")
        return
    registry = _registry(opts)
    model = (registry.promoted() if registry.root.exists() else None) or "none, trains one"
    print(
        f"1. steps before the alerts: {missing}: running features … target_groups in a child "
        f"process (registry {registry.root.relative_to(ROOT)}, promoted model: {model})",
        flush=True,
    )
    args = [sys.executable, str(Path(__file__).resolve()), "--prepare-only"]
    args += ["--subscribers", str(opts.subscribers), "--months", str(opts.months)]
    args += ["--snapshot", opts.snapshot.isoformat()]
    if subprocess.run(args, cwd=ROOT).returncode != 0:
        sys.exit("the steps before the alerts failed")
    warehouse = _open(path)
    try:
        missing = _profile_state(warehouse, opts.snapshot)
    finally:
        warehouse.close()
    if missing is not None:
        sys.exit(f"after the earlier steps: {missing} (no model could be trained?)")


# ----------------------------------------------------------------------------- 2. steps


@dataclass
class Measured:
    """2.'s figures: seconds of the alerts step, of the decisions step on a model's first day
    (every evidence day explained) and on a later day (median; the evidence kept), and the
    last run's stored decisions."""

    alerts: float
    first_day: float
    later_day: float
    decisions: pd.DataFrame

    def worst(self) -> float:
        return self.alerts + max(self.first_day, self.later_day)


def measure(ctx: RunContext, repeat: int) -> Measured:
    """2. The alerts and the decisions step (each with its store): once with the uplift's
    stored evidence dropped (a newly promoted model's first day), then ``repeat`` times as
    the days after it run (median)."""
    warehouse, snapshot = ctx.warehouse, ctx.snapshot
    header(f"2. the steps as run_pipeline runs them: a model's first day, then median of {repeat}")
    alert_times: list[float] = []
    decision_times: list[float] = []
    alert_rows = decision_rows_ = 0

    def decide() -> int:
        stored = decisions_step(ctx)
        if stored is None:
            sys.exit("decisions_step returned None: the profile has no scores")
        return warehouse.replace_snapshot("decisions", stored, snapshot)

    assert isinstance(warehouse, Warehouse)
    warehouse.execute(f"DROP TABLE IF EXISTS {EVIDENCE_TABLE}")
    for _ in range(1 + max(1, repeat)):
        alert_rows, seconds = timed(
            lambda: warehouse.replace_snapshot("alerts", alerts_step(ctx), snapshot)
        )
        alert_times.append(seconds)
        decision_rows_, seconds = timed(decide)
        decision_times.append(seconds)
    alerts_s = statistics.median(alert_times)
    first, later = decision_times[0], decision_times[1:]
    line2("alerts step + store", alert_rows, alerts_s, runs(alert_times))
    line2("decisions, a model's first day", decision_rows_, first, "evidence explained")
    line2("decisions, a later day", decision_rows_, statistics.median(later), runs(later))
    line2("alerts + decisions, later day", None, alerts_s + statistics.median(later))
    # the step's rows as stored (its expression may read temporary tables the store dropped)
    stored = warehouse.table("decisions")
    frame: pd.DataFrame = stored.filter(stored.snapshot_date == snapshot).to_pandas()
    return Measured(alerts_s, first, statistics.median(later), frame)


# ----------------------------------------------------------------------------- 3. parts


class Laps:
    """Runs and prints the parts of one run, keeping their total."""

    def __init__(self) -> None:
        self.total = 0.0

    def __call__(
        self, label: str, run: Callable[[], T], rows: Callable[[T], int | None] = lambda _: None
    ) -> T:
        result, seconds = timed(run)
        self.total += seconds
        line2(label, rows(result), seconds)
        return result

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """decide_day's stage timer: prints and counts the stage's seconds."""
        start = time.perf_counter()
        yield
        seconds = time.perf_counter() - start
        self.total += seconds
        line2(f"decide_day: {name}", None, seconds)


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, pd.DataFrame | pa.Table) else None


def parts(ctx: RunContext) -> tuple[float, pd.DataFrame]:
    """3. One run of both steps split into parts, each part the step's own function
    (decision_steps.fired_alerts, earlier_alerts, decision_inputs, decide with the stage
    timer); the parts' total seconds and the decisions frame."""
    warehouse, snapshot = ctx.warehouse, ctx.snapshot
    header("3. one run broken into parts (alerts_step, decisions_step inputs, decide_day stages)")
    lap = Laps()

    # alerts_step
    fired = lap(
        "alert_context + evaluate_rules -> Arrow",
        lambda: fired_alerts(ctx).to_pyarrow(),
        _size,
    )
    lap(
        "fired_once + store alerts",
        lambda: warehouse.replace_snapshot(
            "alerts", fired_once(ibis.memtable(fired), earlier_alerts(ctx)), snapshot
        ),
        lambda n: n,
    )

    # decisions_step: its inputs, then decide_day timed stage by stage by the product's code
    inputs = lap("inputs (configs, earlier actions, uplift)", lambda: decision_inputs(ctx))
    if inputs is None:
        sys.exit("decision_inputs returned None: the profile has no scores")
    frame = decide(ctx, inputs, stage=lap.stage)
    lap(
        "store decisions",
        lambda: warehouse.replace_snapshot("decisions", ibis.memtable(frame), snapshot),
        lambda n: n,
    )
    line2("total of the parts", None, lap.total)
    return lap.total, frame


def _same(step: pd.DataFrame, parted: pd.DataFrame) -> str:
    """Whether the parts, run apart, gave the decisions of the step."""
    columns = [c for c in step.columns if c != "snapshot_date"]
    others = [c for c in parted.columns if c != "snapshot_date"]
    if set(columns) != set(others):
        odd = sorted(set(columns) ^ set(others))
        return f"NO: columns differ {odd}"
    schema = {c: DECISION_SCHEMA.get(c, "object") for c in columns}
    order = ["subscriber_id", "trigger"]  # the stored rows come back in no set order

    def ordered(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[columns].astype(schema).sort_values(order).reset_index(drop=True)

    try:
        pd.testing.assert_frame_equal(ordered(step), ordered(parted), check_dtype=False)
    except (AssertionError, TypeError, ValueError) as exc:
        return f"NO: {str(exc).strip().splitlines()[0]}"
    return "yes"


# ----------------------------------------------------------------------------- 4. rows


def report_rows(warehouse: Warehouse, snapshot: date) -> None:
    """4. What was stored for the snapshot."""
    print(flush=True)
    print(f"4. rows stored for {snapshot}")
    day = [snapshot]
    alerts = warehouse.execute(
        "SELECT kind, count(*), count(DISTINCT subscriber_id) FROM alerts "
        "WHERE snapshot_date = ? GROUP BY ALL ORDER BY 1",
        day,
    )
    fired = sum(int(r[1]) for r in alerts)
    print(
        f"  alerts fired {fired:,}: "
        + ", ".join(f"{k} {n:,} ({s:,} subscribers)" for k, n, s in alerts)
    )
    ((total, actions, subscribers),) = warehouse.execute(
        "SELECT count(*), count(*) FILTER (WHERE action), count(DISTINCT subscriber_id) "
        "FROM decisions WHERE snapshot_date = ?",
        day,
    )
    print(f"  decisions {total:,} ({subscribers:,} subscribers), actions {actions:,}")
    print(f"  {'trigger_kind':<14}{'outcome':<20}{'rows':>12}{'actions':>10}")
    for kind, outcome, n, acted in warehouse.execute(
        "SELECT trigger_kind, outcome, count(*), count(*) FILTER (WHERE action) FROM decisions "
        "WHERE snapshot_date = ? GROUP BY ALL ORDER BY 1, 3 DESC",
        day,
    ):
        print(f"  {kind:<14}{outcome:<20}{n:>12,}{acted:>10,}")
    channels = warehouse.execute(
        "SELECT channel, count(*) FROM decisions WHERE snapshot_date = ? AND action "
        "GROUP BY ALL ORDER BY 2 DESC",
        day,
    )
    print("  actions per channel: " + ", ".join(f"{c} {n:,}" for c, n in channels))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--snapshot", type=date.fromisoformat, default=date(2026, 10, 31))
    parser.add_argument("--prepare-only", action="store_true", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    path = ROOT / "var" / "bench" / f"warehouse-{opts.subscribers}-{opts.months}.duckdb"
    if not path.exists():
        sys.exit(f"{path} is missing: run bench/bench_features.py first")
    if opts.prepare_only:
        prepare(opts, path)
        return 0

    print(
        f"alerts + decisions, {opts.subscribers:,} subscribers x {opts.months} months, "
        f"snapshot {opts.snapshot}, warehouse {path.name}"
    )
    print(
        f"DuckDB threads={THREADS}, memory_limit={MEMORY_LIMIT}; {os.cpu_count()} CPUs; "
        f"load average at the start: {load_average()}"
    )
    ensure_profile(opts, path)
    warehouse = _open(path)
    try:
        ctx = RunContext(warehouse, opts.snapshot, _registry(opts))
        profile_rows = int(load_profile(warehouse, opts.snapshot).count().execute())
        measured = measure(ctx, opts.repeat)
        parts_s, parted = parts(ctx)
        print(f"  parts give the step's decisions: {_same(measured.decisions, parted)}")
        report_rows(warehouse, opts.snapshot)
    finally:
        warehouse.close()

    print(flush=True)
    print(f"peak RSS of the process: {peak_rss_gib():.2f} GiB")
    print(f"load average at the end: {load_average()}")
    total = measured.worst()
    scale = opts.subscribers / profile_rows if profile_rows else 1.0
    print(
        f"target: alerts + decisions for {opts.subscribers:,} subscribers <= {TARGET:.0f} s on "
        f"any day (measured on the {profile_rows:,} profile rows of {opts.snapshot}; "
        f"x{scale:.2f} linear to {opts.subscribers:,}: {total * scale:.1f} s, for reference)"
    )
    verdict = "PASS" if total <= TARGET else "FAIL"
    print(
        f"  alerts {measured.alerts:.1f} s + decisions {measured.first_day:.1f} s on a model's "
        f"first day, {measured.later_day:.1f} s on a later day: at most {total:.1f} s "
        f"(parts run {parts_s:.1f} s)  {verdict}"
    )
    return 0 if total <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
