"""Benchmark: the churn model's training and scoring on 1 M subscribers, with peak memory.

Targets (issue): training on 1 M rows <= 3 min; scoring 1 M subscribers <= 20 s; scoring with
reasons <= 60 s. Uses the warehouse bench/bench_features.py prepares
(var/bench/warehouse-N-M.duckdb) and only reads it. Measures, in one process:

1. training-set assembly: the labelled frames (features + churn label) of the labelled
   month-end snapshots ``train_on_warehouse`` uses (``snapshot_frame``, each a sample
   stratified by the label of WEIWAN_TRAIN_SAMPLE_SUBSCRIBERS rows at most, and of its share of
   ``TrainingConfig.max_training_rows`` as there);
2. the default model fitted on exactly N rows sampled from those frames (``prepare_features``
   + ``default_model(0).fit``, validated apart by subscriber as training does): one run when
   it takes 30 s or more, else the median of --repeat;
3. ``train_on_warehouse(warehouse, TrainingConfig())`` end to end, once (what ``weiwan model
   train`` does: features of every labelled snapshot, hold-out evaluation of the default and
   the two baselines, refit on everything);
4. scoring the N subscribers of --snapshot with that model: features to pandas (once), then
   probabilities only (``prepare_features`` + ``predict_proba``), median of --repeat;
5. scoring with reasons: ``score_frame`` (probabilities, risk bands, top-3 reasons zh + en
   for the high and medium bands, as the pipeline does), median of --repeat; one run with
   reasons for everyone for reference, and one run split into its parts (TreeSHAP
   contributions of every row, sentences).

Prints seconds, rows and the peak RSS so far after each stage, then PASS/FAIL per target; exits
1 when a target is missed. The machine is shared: quote medians and the load average printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from stages import header, line, median_of, peak_rss_gib, runs, timed
from weiwan.analytics.churn.models import default_model, prepare_features
from weiwan.analytics.churn.reasons import top_reasons
from weiwan.analytics.churn.training import (
    TrainingConfig,
    TrainingResult,
    feature_columns,
    risk_bands,
    score_frame,
    snapshot_frame,
    train_on_warehouse,
    training_snapshots,
)
from weiwan.analytics.features import compute_features
from weiwan.analytics.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[1]
THREADS = 2
MEMORY_LIMIT = "2GB"
TARGET_FIT = 180.0
TARGET_SCORE = 20.0
TARGET_REASONS = 60.0
LONG_RUN = 30.0  # a fit at least this long is run once


def assemble(warehouse: Warehouse, config: TrainingConfig) -> pd.DataFrame:
    """1. The labelled frames of the snapshots train_on_warehouse uses, concatenated."""
    snapshots = training_snapshots(warehouse, config)
    per_snapshot = max(1, config.max_training_rows // max(1, len(snapshots) - 1))  # as there
    header(
        f"1. training-set assembly: snapshot_frame x {len(snapshots)} labelled snapshots "
        f"(at most {per_snapshot:,} rows each)"
    )
    frames: list[pd.DataFrame] = []
    total = 0.0
    for day in snapshots:
        start = time.perf_counter()
        frame = snapshot_frame(warehouse, day, config, per_snapshot)
        seconds = time.perf_counter() - start
        frames.append(frame)
        total += seconds
        line(
            f"snapshot_frame {day}",
            len(frame),
            seconds,
            f"{int(frame['churned'].sum()):,} churners",
        )
    everything = pd.concat(frames, ignore_index=True)
    line("total", len(everything), total, f"{len(feature_columns(everything))} feature columns")
    return everything


def fit_rows(everything: pd.DataFrame, n: int, repeat: int) -> float:
    """2. prepare_features + default_model(0).fit on n sampled rows; their seconds."""
    sample = everything if len(everything) <= n else everything.sample(n=n, random_state=0)
    names = feature_columns(sample)
    header(f"2. default model fit on {len(sample):,} rows")
    y = sample["churned"].to_numpy(bool)
    groups = sample["subscriber_id"].to_numpy()
    (x, _), prepare_s = timed(lambda: prepare_features(sample[names]))
    line("prepare_features", len(x), prepare_s)
    times: list[float] = []
    while True:
        # grouped by subscriber as training does: the same subscribers recur in every snapshot
        model, seconds = timed(lambda: default_model(0).fit(x, y, groups=groups))
        times.append(seconds)
        if seconds >= LONG_RUN or len(times) >= repeat:
            break
    fit_s = statistics.median(times)
    once = f" (one run: >= {LONG_RUN:.0f} s)" if len(times) == 1 and fit_s >= LONG_RUN else ""
    line(
        "default_model(0).fit",
        len(x),
        fit_s,
        f"{runs(times)}{once}; {model.n_rounds_} rounds, {model.num_leaves_} leaves, "
        f"{int(y.sum()):,} churners",
    )
    line("prepare + fit", len(x), prepare_s + fit_s)
    return prepare_s + fit_s


def train_whole(warehouse: Warehouse, config: TrainingConfig) -> TrainingResult:
    """3. train_on_warehouse end to end, once."""
    header("3. train_on_warehouse(warehouse, TrainingConfig()) end to end, once")
    result, seconds = timed(lambda: train_on_warehouse(warehouse, config))
    auc = result.meta.metrics.get("default", {}).get("roc_auc")
    line(
        "train_on_warehouse",
        result.meta.training_rows,
        seconds,
        f"final fit {result.model.n_rounds_} rounds, {result.model.num_leaves_} leaves; "
        f"hold-out {result.meta.holdout_snapshot} ROC AUC {'?' if auc is None else f'{auc:.3f}'}",
    )
    return result


def score(
    warehouse: Warehouse, result: TrainingResult, snapshot: date, repeat: int
) -> tuple[int, float, float]:
    """4 and 5. Rows scored, median seconds of probabilities only and of score_frame."""
    model, meta = result.model, result.meta
    header(f"4. scoring snapshot {snapshot}: probabilities only")
    features, seconds = timed(lambda: compute_features(warehouse, snapshot).to_pandas())
    line("compute_features(...).to_pandas()", len(features), seconds, "1 run")

    def probabilities() -> npt.NDArray[np.float64]:
        x, _ = prepare_features(features[meta.features], categories=model.categories_)
        return np.asarray(model.predict_proba(x)[:, 1], dtype=np.float64)

    p, score_s, times = median_of(repeat, probabilities)
    line("prepare_features + predict_proba", len(p), score_s, runs(times))

    header(f"5. scoring snapshot {snapshot} with reasons: score_frame (top-3 zh + en)")
    scored, reasons_s, times = median_of(repeat, lambda: score_frame(model, meta, features))
    with_reason = int(scored["reason_1"].notna().sum())
    line(
        "score_frame (reasons for high + medium)",
        len(scored),
        reasons_s,
        f"{runs(times)}; {with_reason:,} with a reason",
    )
    everyone, seconds = timed(lambda: score_frame(model, meta, features, reasons_for="all"))
    line("score_frame, reasons for everyone", len(everyone), seconds, "1 run, for reference")
    print("  its parts, one run:")
    (x, _), seconds = timed(
        lambda: prepare_features(features[meta.features], categories=model.categories_)
    )
    line("  prepare_features", len(x), seconds)
    p, seconds = timed(lambda: np.asarray(model.predict_proba(x)[:, 1], dtype=np.float64))
    line("  predict_proba", len(p), seconds)
    contrib, seconds = timed(lambda: model.contributions(x))
    line("  contributions (TreeSHAP)", len(contrib), seconds, f"shape {contrib.shape}")
    reasons, seconds = timed(lambda: top_reasons(contrib, features[meta.features], meta.features))
    line("  top_reasons (sentences)", len(reasons), seconds)
    bands, seconds = timed(lambda: risk_bands(p))
    line("  risk_bands", len(bands), seconds)
    return len(features), score_s, reasons_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--snapshot", type=date.fromisoformat, default=date(2026, 10, 31))
    opts = parser.parse_args()
    n: int = opts.subscribers
    path = ROOT / "var" / "bench" / f"warehouse-{n}-{opts.months}.duckdb"
    if not path.exists():
        sys.exit(f"{path} is missing: run bench/bench_features.py first")
    try:
        warehouse = Warehouse(path, threads=THREADS, memory_limit=MEMORY_LIMIT)
    except Exception as exc:  # DuckDB allows one writer: another process may hold the file
        sys.exit(f"cannot open {path}: {exc}")

    config = TrainingConfig()
    print(f"churn model, {n:,} subscribers x {opts.months} months, warehouse {path.name}")
    print(
        f"DuckDB threads={THREADS}, memory_limit={MEMORY_LIMIT}; LightGBM n_jobs="
        f"{default_model(0).n_jobs}; {os.cpu_count()} CPUs; load average at the start: "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    try:
        train_s = fit_rows(assemble(warehouse, config), n, opts.repeat)
        result = train_whole(warehouse, config)
        rows, score_s, reasons_s = score(warehouse, result, opts.snapshot, opts.repeat)
    finally:
        warehouse.close()

    print(flush=True)
    print(f"peak RSS of the process: {peak_rss_gib():.2f} GiB")
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    # the snapshot has fewer active subscribers than N: scoring is linear in rows, so the
    # targets (set for N subscribers) are checked on the seconds scaled to N rows
    scale = n / rows if rows else 1.0
    checks = (
        (f"training on {n:,} rows (prepare + fit)", train_s, train_s, TARGET_FIT),
        (f"scoring {n:,} subscribers", score_s, score_s * scale, TARGET_SCORE),
        (f"scoring {n:,} with reasons", reasons_s, reasons_s * scale, TARGET_REASONS),
    )
    print(
        f"targets (scoring measured on the {rows:,} subscribers active on {opts.snapshot}, "
        f"checked scaled x{scale:.2f} to {n:,}):"
    )
    print(f"  {'':<40}{'measured s':>11}{'for N s':>9}{'target s':>10}")
    for label, measured, seconds, target in checks:
        verdict = "PASS" if seconds <= target else "FAIL"
        print(f"  {label:<40}{measured:>11.1f}{seconds:>9.1f}{target:>10.0f}  {verdict}")
    return 0 if all(seconds <= target for _, _, seconds, target in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
