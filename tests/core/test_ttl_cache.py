"""The one time-limited cache the ops services share (core/ttl_cache.py)."""

from __future__ import annotations

import threading
from functools import partial

import pytest

from weiwan.core.ttl_cache import TTLCache


class Counter:
    """A compute function that counts its calls and returns the call number."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.calls


def test_a_value_is_reused_until_its_time_is_up_then_computed_again() -> None:
    now = [100.0]
    cache: TTLCache[str, int] = TTLCache(60.0, clock=lambda: now[0])
    compute = Counter()
    assert cache.get_or_compute("a", compute) == 1
    now[0] += 59.9
    assert cache.get_or_compute("a", compute) == 1  # still fresh
    now[0] += 0.1  # exactly 60 s after it was computed: stale
    assert cache.get_or_compute("a", compute) == 2
    assert compute.calls == 2


def test_keys_are_kept_apart_and_clear_forgets_them_all() -> None:
    cache: TTLCache[str, int] = TTLCache(60.0, clock=lambda: 0.0)
    first, second = Counter(), Counter()
    cache.get_or_compute("a", first)
    cache.get_or_compute("b", second)
    assert (cache.get_or_compute("a", first), cache.get_or_compute("b", second)) == (1, 1)
    cache.clear()
    assert len(cache) == 0
    assert (cache.get_or_compute("a", first), cache.get_or_compute("b", second)) == (2, 2)


def test_the_least_recently_used_entry_goes_first_past_the_limit() -> None:
    cache: TTLCache[str, int] = TTLCache(60.0, max_entries=2, clock=lambda: 0.0)
    counters = {key: Counter() for key in "abc"}
    cache.get_or_compute("a", counters["a"])
    cache.get_or_compute("b", counters["b"])
    cache.get_or_compute("a", counters["a"])  # a is now the most recently used
    cache.get_or_compute("c", counters["c"])  # evicts b
    assert len(cache) == 2
    cache.get_or_compute("a", counters["a"])
    cache.get_or_compute("b", counters["b"])
    assert (counters["a"].calls, counters["b"].calls, counters["c"].calls) == (1, 2, 1)


def test_a_failed_computation_keeps_nothing() -> None:
    cache: TTLCache[str, int] = TTLCache(60.0, clock=lambda: 0.0)

    def broken() -> int:
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError):
        cache.get_or_compute("a", broken)
    assert len(cache) == 0
    assert cache.get_or_compute("a", Counter()) == 1


def times_ten(value: int) -> int:
    return value * 10


def test_threads_share_one_cache_safely() -> None:
    cache: TTLCache[int, int] = TTLCache(60.0, max_entries=8, clock=lambda: 0.0)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for i in range(2000):
                key = (i + offset) % 16
                assert cache.get_or_compute(key, partial(times_ten, key)) == key * 10
                if i % 500 == 0:
                    cache.clear()
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cache) <= 8


@pytest.mark.parametrize(("seconds", "entries"), [(-1.0, None), (60.0, 0)])
def test_nonsense_limits_are_refused(seconds: float, entries: int | None) -> None:
    with pytest.raises(ValueError):
        TTLCache(seconds, max_entries=entries)
