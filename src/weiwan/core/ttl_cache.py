"""A small thread-safe time-limited cache for figures a process may reuse for a while.

Why not ``cachetools.TTLCache``: cachetools is not in requirements.lock and this session adds
no dependency; this is the one place the pattern lives, so switching later is one module.
Values are computed outside the lock (a slow database read never blocks other keys); two
threads missing the same key at once may both compute it, and the later result is kept.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """Values kept ``seconds`` after they were computed, at most ``max_entries`` of them (the
    least recently used go first; ``None``: no limit). ``clock`` gives seconds (tests inject
    one; the default is :func:`time.monotonic`)."""

    def __init__(
        self,
        seconds: float,
        *,
        max_entries: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        if max_entries is not None and max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self.seconds = seconds
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get_or_compute(self, key: K, compute: Callable[[], V]) -> V:
        """The value of ``key`` if it was computed less than ``seconds`` ago, else
        ``compute()``'s result, which is kept for the next ``seconds``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and self._clock() - entry[0] < self.seconds:
                self._entries.move_to_end(key)
                return entry[1]
        computed_at = self._clock()
        value = compute()
        with self._lock:
            self._entries[key] = (computed_at, value)
            self._entries.move_to_end(key)
            while self.max_entries is not None and len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every value (after the data behind them changed, and in tests)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
