"""The simulation window: calendar months as day numbers (days since 1970-01-01)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EPOCH = np.datetime64("1970-01-01", "D")


@dataclass(frozen=True)
class Window:
    """``months`` calendar months ending with ``end_month`` (inclusive)."""

    labels: tuple[str, ...]  # "YYYY-MM" per month, oldest first
    start_days: np.ndarray  # int64 day number of each month's first day
    lengths: np.ndarray  # int64 days in each month

    @property
    def months(self) -> int:
        return len(self.labels)

    @property
    def first_day(self) -> int:
        return int(self.start_days[0])

    @property
    def last_day(self) -> int:
        return int(self.start_days[-1] + self.lengths[-1] - 1)


def parse_month(text: str) -> np.datetime64:
    """``"YYYY-MM"`` → numpy month; ValueError on anything else."""
    if len(text) != 7 or text[4] != "-":
        raise ValueError(f"end_month must look like YYYY-MM, got {text!r}")
    return np.datetime64(text, "M")


def make_window(end_month: str, months: int) -> Window:
    """The window of ``months`` months ending at ``end_month``."""
    if months < 1:
        raise ValueError("months must be at least 1")
    end = parse_month(end_month)
    ms = end - np.arange(months - 1, -1, -1)
    starts = ms.astype("datetime64[D]")
    ends = (ms + 1).astype("datetime64[D]")
    labels = tuple(str(m) for m in ms)
    start_days = (starts - _EPOCH).astype(np.int64)
    lengths = (ends - starts).astype(np.int64)
    return Window(labels=labels, start_days=start_days, lengths=lengths)


def month_index_of(days: np.ndarray, window: Window) -> np.ndarray:
    """Window month index (may be negative or ≥ months) of each day number."""
    m = days.astype("datetime64[D]").astype("datetime64[M]")
    first = np.datetime64(window.labels[0], "M")
    return (m - first).astype(np.int64)


def add_months(days: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Day numbers shifted by whole months, day-of-month clipped to the target month."""
    d = days.astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    dom = (d - m.astype("datetime64[D]")).astype(np.int64)
    target = m + months.astype(np.int64)
    tlen = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64)
    out = target.astype("datetime64[D]") + np.minimum(dom, tlen - 1)
    shifted: np.ndarray = (out - _EPOCH).astype(np.int64)
    return shifted
