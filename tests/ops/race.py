"""Run callables at the same moment in threads: the concurrency tests' one way to race."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence


def race(workers: Sequence[Callable[[], object]], timeout: float = 60.0) -> list[object]:
    """Start every callable at once (a barrier) in its own thread; each one's result, or the
    exception it raised (collected for the test to assert on)."""
    barrier = threading.Barrier(len(workers))
    results: list[object] = [None] * len(workers)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = workers[i]()
        except Exception as exc:  # collected and asserted on by the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results
