"""Benchmark: the whole daily run (`weiwan pipeline run` with its publish) on N subscribers.

Targets (issue 21, 2 cores): 1 M subscribers ≤ 3 min for the first run, ≤ 2 min and ≤ 4 GiB
peak RSS for a steady-state day; `weiwan model train` at 1 M ≤ 3 min.

1. simulate N subscribers × --months and ingest them (`weiwan simulate`, `weiwan ingest`),
   cached under var/bench/daily-N-M/ (reused when present);
2. a fresh copy of the ingested warehouse, a fresh model registry and a fresh operational
   database migrated to head (SQLite by default; `--database-url` names a PostgreSQL one,
   `--postgres` starts a throw-away PostgreSQL 15 server with bench/pg_server.py);
3. `weiwan model train --promote`, timed;
4. the daily run twice, as `weiwan pipeline run` does it: the collect of contacts, every step
   (with its store) and the publish into the operational database with the hand-over: first on
   the snapshot (nothing stored yet: the first run), then on the next day (the steady state);
   each step's seconds and rows.

Each of 3 and 4 runs in a child process; its peak RSS (psutil, the child and its children
summed, sampled every 0.1 s) is its own. DuckDB threads=2, memory_limit=2GB as the other
benchmarks. The machine is shared: the load average is printed. Exits 1 when a target is
missed at 1 M or more.

``--engine both`` (or ``spark``): then the same days on Spark ``local[2]`` beside DuckDB's
(bench/daily_spark.py: the delivery ingested with WEIWAN_ENGINE=spark, the same promoted
model, a fresh operational database), and Spark's seconds per million subscribers per core.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from contextlib import ExitStack, suppress
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psutil

from stages import load_average

ROOT = Path(__file__).resolve().parents[1]
END_MONTH = "2026-10"
SNAPSHOT = date(2026, 10, 31)
THREADS = "2"
MEMORY_LIMIT = "2GB"
#: (first run s, steady day s, steady day peak GiB, train s), checked from 1 M subscribers on
TARGETS = (180.0, 120.0, 4.0, 180.0)
#: from 10 M subscribers (out of core): (either day's s, either day's peak GiB); not trained
LARGE_TARGETS = (1200.0, 8.0)


def checks_for(
    subscribers: int, days: list[tuple[date, dict[str, Any], float, float]], train_s: float
) -> list[tuple[str, float, float]]:
    """(what, measured, target) of the issue's targets for this size: 1 M's for the first run,
    the steady day and training; 10 M's (20 min, 8 GiB) for every day."""
    labels = ["first run", "steady day"]
    if subscribers >= 10_000_000:
        seconds, gib = LARGE_TARGETS
        return [
            check
            for label, (_, _, wall, peak) in zip(labels, days, strict=False)
            for check in ((f"{label} s", wall, seconds), (f"{label} peak GiB", peak, gib))
        ]
    checks = [("first run s", days[0][2], TARGETS[0])]
    if train_s:  # not with --reuse-model
        checks.append(("model train s", train_s, TARGETS[3]))
    if len(days) > 1:
        checks += [
            ("steady day s", days[1][2], TARGETS[1]),
            ("steady day peak GiB", days[1][3], TARGETS[2]),
        ]
    return checks


class PeakRss:
    """The peak of a process's resident memory with its children's, sampled in a thread."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.peak = 0
        self._process = psutil.Process(pid)
        self._every = every
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.is_set():
            try:
                family = [self._process, *self._process.children(recursive=True)]
                total = 0
                for process in family:
                    with suppress(psutil.Error):
                        total += process.memory_info().rss
                self.peak = max(self.peak, total)
            except psutil.Error:
                return
            self._done.wait(self._every)

    def stop(self) -> float:
        """Stop sampling; the peak in GiB."""
        self._done.set()
        self._thread.join()
        return self.peak / 1024**3

    def lap(self) -> float:
        """The peak in GiB since the last lap (or the start); sampling goes on."""
        rss = int(self._process.memory_info().rss)
        peak, self.peak = max(self.peak, rss), rss
        return peak / 1024**3


def _env(home: Path, warehouse: Path, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "WEIWAN_HOME": str(home),
        "WEIWAN_WAREHOUSE_PATH": str(warehouse),
        "WEIWAN_DATABASE_URL": database_url,
        "WEIWAN_THREADS": THREADS,
        "WEIWAN_MEMORY_LIMIT": MEMORY_LIMIT,
    }


def _child(args: list[str], env: dict[str, str]) -> tuple[str, float, float]:
    """Run ``args``; its stdout, wall seconds and peak RSS GiB (exits when it fails)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    sampler = PeakRss(proc.pid)
    stdout, stderr = proc.communicate()
    peak = sampler.stop()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{stderr[-4000:]}")
    return stdout, wall, peak


# ----------------------------------------------------------------------------- 1. prepare


def prepare(cache: Path, subscribers: int, months: int) -> Path:
    """The ingested warehouse of this size, simulating and ingesting only what is missing."""
    cache.mkdir(parents=True, exist_ok=True)
    sim, ingested = cache / "sim", cache / "ingested.duckdb"
    env = _env(cache / "home-prepare", ingested.with_suffix(".partial"), "sqlite://")
    weiwan = [sys.executable, "-m", "weiwan"]
    if not (sim / "extracts" / "monthly_usage.parquet").exists():
        shutil.rmtree(sim, ignore_errors=True)
        size = ["--subscribers", str(subscribers), "--months", str(months), "--seed", "7"]
        _, wall, peak = _child(
            [*weiwan, "simulate", *size, "--end-month", END_MONTH, "--out", str(sim)], env
        )
        print(f"  simulate {subscribers:,} × {months} months: {wall:.1f} s, {peak:.2f} GiB")
    if not ingested.exists():
        partial = ingested.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        _, wall, peak = _child([*weiwan, "ingest", str(sim), "--snapshot", str(SNAPSHOT)], env)
        partial.rename(ingested)
        print(f"  ingest: {wall:.1f} s, {peak:.2f} GiB")
    else:
        print(f"  simulated and ingested data reused from {cache}")
    return ingested


def _keep_model(cache: Path) -> Path:
    """The previous run's model registry of this size, moved aside before the home is wiped."""
    models = cache / "home" / "models"
    if not (models / "registry.json").exists():
        sys.exit(f"--reuse-model: no model registry at {models}; run once without it")
    kept = cache / "models-kept"
    shutil.rmtree(kept, ignore_errors=True)
    models.rename(kept)
    return kept


def fresh(cache: Path, ingested: Path, database_url: str | None) -> tuple[Path, Path, str]:
    """2. A fresh home, warehouse copy and operational database (migrated)."""
    from weiwan.core.db import make_engine
    from weiwan.ops.migrate import upgrade

    home = cache / "home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    warehouse = home / "warehouse.duckdb"
    shutil.copyfile(ingested, warehouse)
    url = database_url or f"sqlite:///{home / 'ops.db'}"
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return home, warehouse, url


# ----------------------------------------------------------------------------- 4. a day (child)


def run_day(day: date) -> dict[str, Any]:
    """(Child process) ``weiwan pipeline run --snapshot day`` timed step by step."""
    from zoneinfo import ZoneInfo

    from weiwan.analytics.churn.registry import ModelRegistry
    from weiwan.cli.base import open_warehouse
    from weiwan.core.db import make_engine
    from weiwan.core.settings import get_settings
    from weiwan.ops.handover.service import hand_over
    from weiwan.pipeline.publish import publish
    from weiwan.pipeline.run import run_pipeline

    settings = get_settings()
    start = time.perf_counter()
    warehouse = open_warehouse()  # the engine WEIWAN_ENGINE names, as `weiwan pipeline run`
    engine = make_engine(settings.database)
    laps: list[tuple[str, float]] = []
    memory = PeakRss(os.getpid(), every=0.05)
    #: the peak RSS GiB of each step (keyed by the step's name) and each published kind
    peaks: dict[str, float] = {}

    def progress(name: str, _done: int, _total: int) -> None:
        if laps:
            peaks[laps[-1][0]] = memory.lap()
        else:
            peaks["collect"] = memory.lap()
        laps.append((name, time.perf_counter()))

    def published_kind(kind: str) -> None:
        peaks[f"publish {kind}"] = memory.lap()

    try:
        result = run_pipeline(
            warehouse,
            day,
            progress,
            registry=ModelRegistry(settings.models_dir),
            ops_engine=engine,
            tz=ZoneInfo(settings.timezone),
            config_home=settings.home,
        )
        steps_end = time.perf_counter()
        published = publish(warehouse, engine, day, on_kind=published_kind)
        publish_end = time.perf_counter()
        memory.lap()
        handed = hand_over(
            engine,
            day,
            visit_due_days=settings.arrival_visit_due_days,
            visit_window_days=settings.arrival_visit_window_days,
            tz=ZoneInfo(settings.timezone),
        )
        end = time.perf_counter()
        peaks["hand-over"] = memory.lap()
    finally:
        memory.stop()
        warehouse.close()
        engine.dispose()
    seconds = {name: laps[i + 1][1] - at for i, (name, at) in enumerate(laps[:-1])}
    return {
        "collect": laps[0][1] - start,
        "steps": [
            [name, seconds[name], result.rows.get(name, 0), peaks.get(name, 0.0)]
            for name in seconds
        ],
        "publish": [
            [k, published.seconds[k], published.rows[k], peaks.get(f"publish {k}", 0.0)]
            for k in published.rows
        ],
        "publish_total": publish_end - steps_end,
        "hand_over": [end - publish_end, sum(handed.values()), peaks["hand-over"]],
        "total": end - start,
    }


# ----------------------------------------------------------------------------- print


def _row(stage: str, cells: list[tuple[float, int | None, float | None]]) -> None:
    text = "".join(
        f"{'' if rows is None else f'{rows:,}':>12}{seconds:>9.1f}"
        f"{'' if peak is None else f'{peak:.2f}':>7}"
        for seconds, rows, peak in cells
    )
    print(f"  {stage:<28}{text}", flush=True)


def report(
    days: list[tuple[date, dict[str, Any], float, float]], labels: list[str] | None = None
) -> None:
    """Each step's rows, seconds and peak RSS GiB (while it ran), a column group per day."""
    print()
    head = "".join(f"{'rows':>12}{'s':>9}{'GiB':>7}" for _ in days)
    titles = "".join(f"{label:>28}" for label in labels or ["first run", "steady day"])
    print(f"  {'':<28}{titles}")
    print(f"  {'step':<28}{head}")
    _row("collect (contacts, outcomes)", [(d["collect"], None, None) for _, d, _, _ in days])
    for i, (name, *_) in enumerate(days[0][1]["steps"]):
        _row(name, [(d["steps"][i][1], d["steps"][i][2], d["steps"][i][3]) for _, d, _, _ in days])
    for i, (kind, *_) in enumerate(days[0][1]["publish"]):
        cells = [
            (d["publish"][i][1], d["publish"][i][2], d["publish"][i][3]) for _, d, _, _ in days
        ]
        _row(f"publish {kind}", cells)
    _row("publish (all)", [(d["publish_total"], None, None) for _, d, _, _ in days])
    _row("hand-over", [tuple(d["hand_over"]) for _, d, _, _ in days])
    _row("daily run, in process", [(d["total"], None, None) for _, d, _, _ in days])
    _row("daily run, wall (process)", [(wall, None, peak) for _, _, wall, peak in days])


def run_days(
    env: dict[str, str], count: int = 2
) -> list[tuple[date, dict[str, Any], float, float]]:
    """4. The first run and the steady day (``count`` 1: the first run only), each in a child
    with ``env``."""
    days = []
    for day in (SNAPSHOT, SNAPSHOT + timedelta(days=1))[:count]:
        args = [sys.executable, str(Path(__file__).resolve()), "--child-day", str(day)]
        stdout, wall, peak = _child(args, env)
        measured = json.loads(stdout.strip().splitlines()[-1])
        print(f"  day {day}: {wall:.1f} s, peak {peak:.2f} GiB", flush=True)
        days.append((day, measured, wall, peak))
    return days


def spark_side(
    cache: Path,
    home: Path,
    database_url: str,
    env: dict[str, str],
    subscribers: int,
    count: int = 2,
) -> list[tuple[date, dict[str, Any], float, float]]:
    """The same delivery ingested on Spark local[2], the promoted model of ``home`` copied, a
    fresh operational database, then the two days (``count`` 1: the first run only;
    bench/daily_spark.py)."""
    import daily_spark as spark

    sim = cache / "sim"
    partitions = spark.shuffle_partitions(sim)
    print(
        f"Spark {spark.MASTER}, driver memory {spark.DRIVER_MEMORY}, {partitions} shuffle "
        f"partitions ({spark.parquet_bytes(sim) / spark.MIB:,.0f} MiB of delivery Parquet)",
        flush=True,
    )
    ingested = spark.prepare_spark(cache, sim, env, _child, partitions, SNAPSHOT)
    spark_env = spark.fresh_spark(cache, ingested, home / "models", env, database_url, partitions)
    days = run_days(spark_env, count)
    root = Path(spark_env["WEIWAN_SPARK_WAREHOUSE"])
    delivery, results = spark.storage_per_day(root, SNAPSHOT, [d for d, *_ in days])
    print(
        f"  Spark warehouse per snapshot day: delivery {delivery:,.1f} MiB, results "
        f"{results:,.1f} MiB (Parquet) for {subscribers:,} subscribers",
        flush=True,
    )
    return days


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--cache", type=Path, help="default var/bench/daily-N-M")
    parser.add_argument("--database-url", help="a PostgreSQL database (migrated to head here)")
    parser.add_argument("--postgres", action="store_true", help="start a throw-away PostgreSQL")
    parser.add_argument(
        "--engine",
        choices=("duckdb", "spark", "both"),
        default="duckdb",
        help="spark: the days on Spark local[2] (bench/daily_spark.py); both: DuckDB's, then "
        "Spark's beside them, with Spark's seconds per million subscribers per core",
    )
    parser.add_argument(
        "--days",
        type=int,
        choices=(1, 2),
        default=2,
        help="1: the first run only, on each engine (at 10 M a day takes tens of minutes)",
    )
    parser.add_argument(
        "--reuse-model",
        action="store_true",
        help="keep the model the previous run of this size promoted (cache/home/models) "
        "instead of training again (the warehouse and database are fresh all the same)",
    )
    parser.add_argument("--child-day", help=argparse.SUPPRESS)
    opts = parser.parse_args()

    if opts.child_day:  # inside a child: one day, its report as JSON on the last line
        print(json.dumps(run_day(date.fromisoformat(opts.child_day))))
        return 0

    cache = opts.cache or ROOT / "var" / "bench" / f"daily-{opts.subscribers}-{opts.months}"
    print(f"daily run: {opts.subscribers:,} subscribers × {opts.months} months, {SNAPSHOT}")
    print(f"DuckDB threads={THREADS}, memory_limit={MEMORY_LIMIT}; {os.cpu_count()} CPUs")
    with ExitStack() as stack:
        url = opts.database_url
        if opts.postgres and not url:
            from pg_server import pg_server

            url = stack.enter_context(pg_server())
        ingested = prepare(cache, opts.subscribers, opts.months)
        kept = _keep_model(cache) if opts.reuse_model else None
        home, warehouse, url = fresh(cache, ingested, url)
        env = _env(home, warehouse, url)
        print(f"  operational database: {url.split('://')[0]}", flush=True)
        if kept is not None:
            kept.rename(home / "models")
            train_s = train_gib = 0.0
            print("  model: the one promoted by the previous run of this size (not trained)")
        else:
            weiwan = [sys.executable, "-m", "weiwan"]
            _, train_s, train_gib = _child([*weiwan, "model", "train", "--promote"], env)
            print(f"  weiwan model train --promote: {train_s:.1f} s, peak {train_gib:.2f} GiB")
        days = run_days(env, opts.days) if opts.engine != "spark" else []
        labels = ["first run", "steady day"][: len(days)]
        spark_days = []
        if opts.engine != "duckdb":
            spark_days = spark_side(cache, home, url, env, opts.subscribers, opts.days)
            days += spark_days
            labels += ["Spark first run", "Spark steady day"][: len(spark_days)]
    report(days, labels)
    if opts.engine != "duckdb":
        from daily_spark import per_core_costs

        per_core_costs(
            opts.subscribers,
            [
                (t, m, w)
                for t, (_, m, w, _) in zip(labels[-len(spark_days) :], spark_days, strict=True)
            ],
        )
    print(f"\nload average at the end: {load_average()}")
    if opts.engine == "spark":
        return 0
    checks = checks_for(opts.subscribers, days[: opts.days], train_s)  # DuckDB's days
    missed = [what for what, value, target in checks if value > target]
    if missed and opts.subscribers >= 1_000_000:
        print(f"targets missed at {opts.subscribers:,}: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
