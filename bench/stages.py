"""Timing and printing shared by the stage-by-stage benchmarks (bench_churn, bench_decisions)."""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def peak_rss_gib() -> float:
    """The process's peak resident memory so far, GiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB


def load_average() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def timed(run: Callable[[], T]) -> tuple[T, float]:
    """``run()``'s result and its seconds."""
    start = time.perf_counter()
    result = run()
    return result, time.perf_counter() - start


def median_of(repeat: int, run: Callable[[], T]) -> tuple[T, float, list[float]]:
    """The last result, the median seconds and every run's seconds."""
    times: list[float] = []
    result: T | None = None
    for _ in range(max(1, repeat)):
        result, seconds = timed(run)
        times.append(seconds)
    assert result is not None
    return result, statistics.median(times), times


def runs(times: list[float]) -> str:
    if len(times) == 1:
        return "1 run"
    return f"median of {len(times)} ({', '.join(f'{t:.1f}' for t in times)})"


def line(stage: str, rows: int | None, seconds: float, note: str = "", digits: int = 1) -> None:
    """One stage: name, rows, seconds, peak RSS so far, note."""
    count = "" if rows is None else f"{rows:,}"
    print(
        f"  {stage:<38}{count:>12}{seconds:>10.{digits}f}{peak_rss_gib():>10.2f}  {note}",
        flush=True,
    )


def header(title: str) -> None:
    print(flush=True)
    print(title)
    print(f"  {'stage':<38}{'rows':>12}{'seconds':>10}{'peak GiB':>10}  note")
