"""Locust users of bench/bench_ops_api.py: hotline screen-pops and store outcomes with closure.

Run by the benchmark as ``locust -f bench/locust_ops.py --headless ... ScreenPop Outcome``;
everything it needs comes from ``OPS_*`` environment variables the benchmark sets:

- ``OPS_CUSTOMERS``: customers loaded (subscriber n has phone ``138`` + n as 8 digits and
  branch index ``n % 10``); ``OPS_PASSWORD``: every user's password;
- ``OPS_SCREEN_USERS`` / ``OPS_SCREEN_RATE``: screen-pop users and requests/s per user;
- ``OPS_OUTCOME_USERS`` / ``OPS_OUTCOME_RATE``: outcome users and requests/s per user;
- ``OPS_OUTCOME_FIRST`` / ``OPS_OUTCOME_LAST``: the subscriber numbers this run may record
  an acceptance for (each once: subscriber n has store task 2n and outbound task 2n - 1);
- ``OPS_POLICY``, ``OPS_AT``: the accepted policy and the contact time (ISO, working hours);
- ``OPS_WARMUP``: seconds after the start whose requests are dropped from the statistics;
- ``OPS_RESULT``: where to write the statistics as JSON when locust quits;
- ``OPS_ARRIVALS``: ``poisson`` (default) or ``lockstep`` (see :func:`arrivals`).

User i logs in as the hotline agent / store clerk of city ``i % 3`` and asks only about
customers of that city's branches (their scope), so every answer should be 200 / 201.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

from locust import FastHttpUser, User, constant_throughput, events, task
from locust.env import Environment

#: branch indices (``n % 10``) of each city: the city branch and its rural sub-branches
CITY_INDICES: tuple[tuple[int, ...], ...] = ((0, 1, 2), (3, 4, 5), (6, 7, 8, 9))
SCREEN = "GET /api/v1/screen-pop"
OUTCOME = "POST /api/v1/contacts (accepted, closes outbound task)"


def _env(name: str, default: str = "0") -> str:
    return os.environ.get(name, default)


CUSTOMERS = int(_env("OPS_CUSTOMERS", "1000"))
PASSWORD = _env("OPS_PASSWORD", "")
POLICY = _env("OPS_POLICY", "")
AT = _env("OPS_AT", "")
WARMUP = float(_env("OPS_WARMUP"))
ARRIVALS = _env("OPS_ARRIVALS", "poisson")

_user_numbers: dict[str, Iterator[int]] = {}
_warm_end = [float("inf")]  # monotonic time when the warm-up ends; reset once then
_measured_from = [0.0]
#: the app's own time per request (its ``Server-Timing: app;dur=`` header), by request name:
#: what is left of the client's time is the network, uvicorn's parsing and the queues
_server_ms: dict[str, list[float]] = {}


def msisdn(n: int) -> str:
    """The phone number of subscriber ``n`` (as the benchmark loads it)."""
    return f"138{n:08d}"


def subscriber_id(n: int) -> str:
    """The subscriber id of subscriber ``n``."""
    return f"S{n:09d}"


def random_customer(city: int) -> int:
    """A random subscriber number of ``city``'s branches."""
    n = 10 * random.randrange(max(CUSTOMERS // 10, 1)) + random.choice(CITY_INDICES[city])
    return n if n >= 1 else 10


def _numbers(city: int) -> Iterator[int]:
    first, last = int(_env("OPS_OUTCOME_FIRST", "1")), int(_env("OPS_OUTCOME_LAST", "0"))
    return (n for n in range(first, last + 1) if n % 10 in CITY_INDICES[city])


_outcome_numbers = [_numbers(city) for city in range(len(CITY_INDICES))]


def _started(environment: Environment, **_kwargs: Any) -> None:
    _warm_end[0] = time.monotonic() + WARMUP
    _measured_from[0] = time.time()


def _after_warmup(environment: Environment) -> None:
    """Drop the warm-up's requests (logins included) from the statistics, once."""
    if time.monotonic() >= _warm_end[0]:
        _warm_end[0] = float("inf")
        environment.stats.reset_all()
        _server_ms.clear()
        _measured_from[0] = time.time()


def _note_server_time(name: str, response: Any) -> None:
    timing = response.headers.get("server-timing") or ""
    if timing.startswith("app;dur="):
        _server_ms.setdefault(name, []).append(float(timing[len("app;dur=") :]))


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def _write_result(environment: Environment, **_kwargs: Any) -> None:
    path = os.environ.get("OPS_RESULT")
    if not path:
        return
    seconds = max(time.time() - _measured_from[0], 1e-9)
    entries = {}
    for entry in environment.stats.entries.values():
        entries[entry.name] = {
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "seconds": seconds,
            "rps": entry.num_requests / seconds,
            "p50": entry.get_response_time_percentile(0.50),
            "p95": entry.get_response_time_percentile(0.95),
            "p99": entry.get_response_time_percentile(0.99),
            "max": entry.max_response_time,
            "mean": entry.avg_response_time,
            "server_p50": _percentile(_server_ms.get(entry.name, []), 0.50),
            "server_p99": _percentile(_server_ms.get(entry.name, []), 0.99),
        }
    errors = [
        {"name": e.name, "error": str(e.error), "count": e.occurrences}
        for e in environment.stats.errors.values()
    ]
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"entries": entries, "errors": errors}, handle, indent=1)


events.test_start.add_listener(_started)  # type: ignore[no-untyped-call]
events.quitting.add_listener(_write_result)  # type: ignore[no-untyped-call]


def arrivals(rate: float) -> Callable[[User], float]:
    """The wait time of a user making ``rate`` requests per second.

    ``poisson``: each request starts an exponentially distributed interval (mean 1 / rate)
    after the previous one started, so all users' requests together arrive as independent
    callers do, a Poisson stream of users × rate per second.

    ``lockstep``: locust's ``constant_throughput``, which starts each user's requests exactly
    1 / rate apart. Users keep the phase they were spawned with: 20 users spawned at 20/s
    making 10 requests/s each are two groups of 10 that send their requests within the same
    millisecond every 50 ms. That measures bursts of 10 simultaneous screen-pops, not
    200 requests/s (kept to show the difference; bench_ops_api.py --arrivals lockstep).
    """
    if ARRIVALS == "lockstep":
        return constant_throughput(rate)
    if ARRIVALS != "poisson":
        raise ValueError(f"OPS_ARRIVALS: poisson or lockstep, not {ARRIVALS!r}")
    scheduled: dict[int, float] = {}

    def wait(user: User) -> float:
        now = time.monotonic()
        # a late request starts at once and the next keeps the schedule (the mean rate holds)
        start = scheduled.get(id(user), now) + random.expovariate(rate)
        scheduled[id(user)] = start
        return max(start - now, 0.0)

    return wait


class _Login(FastHttpUser):
    abstract = True
    role = ""

    def on_start(self) -> None:
        numbers = _user_numbers.setdefault(self.role, itertools.count())
        self.city = next(numbers) % len(CITY_INDICES)
        response = self.client.post(
            "/api/v1/auth/login",
            json={"username": f"{self.role}{self.city}", "password": PASSWORD},
            name="login",
        )
        self.csrf = str(response.json()["csrf_token"]) if response.status_code == 200 else ""


class ScreenPop(_Login):
    """A hotline agent: the unified view of each caller, by phone number."""

    fixed_count = int(_env("OPS_SCREEN_USERS"))
    wait_time = arrivals(float(_env("OPS_SCREEN_RATE", "1")))
    role = "hotline"

    @task
    def screen_pop(self) -> None:
        _after_warmup(self.environment)
        phone = msisdn(random_customer(self.city))
        with self.client.get(
            f"/api/v1/screen-pop?phone={phone}&channel=hotline", name=SCREEN, catch_response=True
        ) as response:
            _note_server_time(SCREEN, response)
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
            elif response.json()["customer"]["subscriber_id"] is None:
                response.failure("no customer in the answer")


class Outcome(_Login):
    """A store clerk: the customer accepts the policy of the store task; the outbound task of
    the same policy must be closed in the same transaction."""

    fixed_count = int(_env("OPS_OUTCOME_USERS"))
    wait_time = arrivals(float(_env("OPS_OUTCOME_RATE", "1")))
    role = "clerk"

    @task
    def record(self) -> None:
        _after_warmup(self.environment)
        n = next(_outcome_numbers[self.city], None)
        if n is None:
            raise RuntimeError("out of subscribers for outcomes: widen OPS_OUTCOME_LAST")
        body = {
            "subscriber_id": subscriber_id(n),
            "channel": "store",
            "task_id": 2 * n,
            "outcomes": [{"outcome": "connected"}, {"outcome": "accepted", "policy_id": POLICY}],
            "at": AT,
        }
        with self.client.post(
            "/api/v1/contacts",
            json=body,
            headers={"X-CSRF-Token": self.csrf},
            name=OUTCOME,
            catch_response=True,
        ) as response:
            _note_server_time(OUTCOME, response)
            if response.status_code != 201:
                response.failure(f"status {response.status_code}: {response.text[:120]}")
            elif response.json().get("closed_task_ids") != [2 * n - 1]:
                response.failure(f"closed {response.json().get('closed_task_ids')}")
