"""Operator simulator (数字孪生): contract-shaped extracts plus the ground truth behind them.

``simulate`` writes ``out/extracts/<table>.<fmt>`` for every contract table and
``out/truth/{monthly_truth,offer_effects,traits}.parquet``. Same arguments, same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

from weiwan.sim.calendar import make_window
from weiwan.sim.engine import run_chunk
from weiwan.sim.event_stream import write_event_stream
from weiwan.sim.roster import EXTRA_SUBSCRIBER_COLUMNS
from weiwan.sim.writer import Sinks

__all__ = ["EXTRA_SUBSCRIBER_COLUMNS", "SimulationSummary", "simulate"]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SimulationSummary:
    """What a run wrote and how much churn it simulated."""

    subscribers: int
    months: int
    end_month: str
    seed: int
    fmt: str
    rows: dict[str, int]  # per extract table
    truth_rows: dict[str, int]  # per truth file
    churned: dict[str, int]  # lines that left, per month "YYYY-MM"
    churn_rate: dict[str, float]  # churned ÷ lines in service at the month's start
    monthly_churn_rate: float  # all churn ÷ all line-months at risk
    paths: dict[str, Path] = field(default_factory=dict)  # extract name / "truth/<name>"
    events: int = 0  # real-time events written (events/events.parquet), when asked for


def simulate(
    *,
    subscribers: int,
    months: int,
    seed: int,
    out: Path,
    end_month: str,
    fmt: Literal["parquet", "csv"] = "parquet",
    chunk_size: int = 500_000,
    progress: Progress | None = None,
    campaigns: bool = True,
    events: bool = False,
) -> SimulationSummary:
    """Simulate ``subscribers`` lines over ``months`` months ending ``end_month`` into ``out``;
    ``campaigns``: the operator's earlier retention campaigns with their hold-outs (extract
    ``retention_contacts``, see :mod:`weiwan.sim.campaigns`), else that extract stays empty;
    ``events``: also the real-time event stream (:mod:`weiwan.sim.event_stream`)."""
    if subscribers < 1 or chunk_size < 1:
        raise ValueError("subscribers and chunk_size must be positive")
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt must be 'parquet' or 'csv', got {fmt!r}")
    window = make_window(end_month, months)
    sinks = Sinks(Path(out), fmt, {"subscribers": EXTRA_SUBSCRIBER_COLUMNS})
    chunks = (subscribers + chunk_size - 1) // chunk_size
    total, done = chunks * (months + 1), 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress("simulate", done, total)

    churned = np.zeros(months, dtype=np.int64)
    at_risk = np.zeros(months, dtype=np.int64)
    try:
        sinks.open_extracts()
        if progress is not None:
            progress("simulate", 0, total)
        for c in range(chunks):
            start = c * chunk_size
            size = min(chunk_size, subscribers - start)
            res = run_chunk(
                window=window,
                seed=seed,
                chunk=c,
                start=start,
                size=size,
                sinks=sinks,
                tick=tick,
                campaigns=campaigns,
            )
            churned += res.churned
            at_risk += res.at_risk
    finally:
        sinks.close()
    written = write_event_stream(Path(out), seed) if events else 0
    summary = _summary(
        sinks,
        window.labels,
        churned,
        at_risk,
        subscribers=subscribers,
        months=months,
        end_month=end_month,
        seed=seed,
        fmt=fmt,
    )
    return replace(summary, events=written)


def _summary(
    sinks: Sinks,
    labels: tuple[str, ...],
    churned: np.ndarray,
    at_risk: np.ndarray,
    *,
    subscribers: int,
    months: int,
    end_month: str,
    seed: int,
    fmt: str,
) -> SimulationSummary:
    """The run summary from the writers' row counts and the per-month churn counts."""
    rows = sinks.rows()
    return SimulationSummary(
        subscribers=subscribers,
        months=months,
        end_month=end_month,
        seed=seed,
        fmt=fmt,
        rows={k: v for k, v in rows.items() if not k.startswith("truth/")},
        truth_rows={k[6:]: v for k, v in rows.items() if k.startswith("truth/")},
        churned={lab: int(c) for lab, c in zip(labels, churned, strict=True)},
        churn_rate={
            lab: float(c) / max(int(r), 1)
            for lab, c, r in zip(labels, churned, at_risk, strict=True)
        },
        monthly_churn_rate=float(churned.sum() / max(int(at_risk.sum()), 1)),
        paths=dict(sinks.paths),
    )
