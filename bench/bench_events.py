"""Benchmark: real-time event intake on PostgreSQL with published customers, 2 cores.

Targets (issue 20): sustained ≥ 1,000 events/s in batches with event → task committed p99 ≤ 1 s;
single-event posts at 200/s with p99 ≤ 50 ms; the backlog and the CPU split reported.

The data is bench_ops_api.py's (customers, branches, tasks … generated in SQL), plus what the
daily run publishes — the shipped alert rules, a policy library behind the customers' eligible
policies, decide.yaml, the contact policy (capacities off) — and a source's token. The real app
(bench/ops_app.py) is served by uvicorn in a child process. Each event takes the whole path:
rules, contact policy, the offer valued and granted on the ledger, the task.

1. batches, processed in the intake's transaction (the default: a 202 means the events' tasks
   are committed, so a batch's answer time *is* its events' event → task time):
   ``--senders`` threads post batches of ``--batch`` port-out code requests (random customers,
   unique ids) back to back for ``--seconds``; events/s, answer time percentiles, CPU seconds
   per second of the app and of PostgreSQL;
2. single events the same way, paced at ``--rate`` a second from ``--single-senders`` threads;
3. single events with ``WEIWAN_EVENTS_PROCESS_AT_INTAKE=false``: the post is answered once the
   event is stored and one ``weiwan events process --follow`` worker processes the backlog in
   batches; answer time and received → processed percentiles, the worker's CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import psutil
import sqlalchemy as sa
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ops_api import POLICIES, CpuMeter, load, serve, subscriber_id
from pg_server import pg_server
from weiwan.analytics.contact_policy import load_contact_policy
from weiwan.core.db import make_engine, session_scope
from weiwan.ops.base import utcnow
from weiwan.ops.events.models import EventRecord
from weiwan.ops.events.tokens import create_token
from weiwan.ops.org.config import text_digest, yaml_name
from weiwan.ops.org.models import ConfigDocument


def publish_rules(engine: sa.Engine) -> None:
    """As the daily run publishes them: the shipped alert rules (with the event rules), policy
    library and decide.yaml (so each event's offer is valued and granted on the ledger), and
    the shipped contact policy without its capacities (every event makes its contact: the
    figures are those of the full path)."""
    shipped = resources.files("weiwan.analytics")
    texts = {
        "alerts": shipped.joinpath("alert_rules/alerts.yaml").read_text(),
        "policies": _library(),
        "decide": shipped.joinpath("decide.yaml").read_text(),
    }
    with session_scope(engine) as session:
        for kind, text in texts.items():
            name = f"{kind}.yaml"
            content = {"text": text, "source": name, "edited": False, "sha256": text_digest(text)}
            session.merge(
                ConfigDocument(
                    name=yaml_name(kind), content=json.dumps(content), updated_at=utcnow()
                )
            )
        rules = load_contact_policy().model_dump(mode="json")
        for channel in rules["channels"].values():
            channel["capacity"] = None
        session.merge(ConfigDocument(name="contact_rules", content=json.dumps(rules)))


#: the offer type of each of bench_ops_api's policies in the library document
OFFER_TYPES = {"bench_p1": "prepay_and_get", "bench_p2": "discount", "bench_p3": "bonus_data",
               "bench_p4": "discount", "bench_p5": "device_subsidy"}  # fmt: skip


def _library() -> str:
    """The policy library behind bench_ops_api's published policies (the customers are
    eligible for them), with budgets and value caps, as YAML."""
    caps = yaml.safe_load(resources.files("weiwan.analytics").joinpath("policies.yaml").read_text())
    entries = [
        {
            "id": pid, "name_zh": zh, "name_en": en, "offer_type": OFFER_TYPES[pid],
            "target": {"field": "plan_id", "op": "not_null"}, "valid_from": "2026-01-01",
            "valid_to": "open", "review_by": "2099-12-31", "min_spend": 1,
            "limit": {"times": 1, "per_months": 12}, "cost": {"kind": "one_off", "amount": cost},
            "budget": {"count": 1_000_000, "per_months": 12},
            "channels": ["outbound_call", "account_manager_call", "sms", "store", "hotline"],
            "approval": "approved",
        }
        for pid, zh, en, _kind, cost in POLICIES
    ]  # fmt: skip
    return str(yaml.safe_dump({"value_caps": caps["value_caps"], "policies": entries}))


def paced(
    intake: str, headers: dict[str, str], ids: Ids, interval: float, customers: int
) -> Callable[[httpx.Client, random.Random], Sent]:
    """A sender of one event per call, paced to one call per ``interval`` seconds after the
    answer (the answer's own time is what is measured)."""

    def send(client: httpx.Client, rng: random.Random) -> Sent:
        due = time.monotonic() + interval
        body = {"events": _events(ids.take(1), customers, rng)}
        started = time.perf_counter()
        answer = client.post(intake, json=body, headers=headers)
        answered = time.perf_counter() - started
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        if answer.status_code != 202:
            return -1, None
        return int(answer.json()["accepted"]), answered

    return send


def _cpu(pid: int) -> float:
    """CPU seconds of a process so far."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _lags(engine: sa.Engine, prefix: str) -> list[float]:
    """Seconds from received to processed of the events whose id starts with ``prefix``."""
    with session_scope(engine) as session:
        rows = session.execute(
            sa.select(EventRecord.received_at, EventRecord.processed_at).where(
                EventRecord.event_id.like(f"{prefix}%"), EventRecord.processed_at.is_not(None)
            )
        ).all()
    return [(done - got).total_seconds() for got, done in rows if done is not None]


class Ids:
    """Unique event ids across threads."""

    def __init__(self, prefix: str) -> None:
        self.prefix, self.n, self.lock = prefix, 0, threading.Lock()

    def take(self, count: int) -> list[str]:
        with self.lock:
            first, self.n = self.n, self.n + count
        return [f"{self.prefix}-{i}" for i in range(first, first + count)]


def _events(ids: list[str], customers: int, rng: random.Random) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return [
        {
            "event_id": i,
            "subscriber_id": subscriber_id(rng.randint(1, customers)),
            "type": "port_out_code_request",
            "time": now,
            "attributes": {"channel": "sms"},
        }
        for i in ids
    ]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


#: what one send returns: events taken in (-1: an error) and, when it paces itself after the
#: answer, the answer's own time in seconds (else the call is timed)
Sent = tuple[int, float | None]


def run_senders(
    senders: int, seconds: float, send: Callable[[httpx.Client, random.Random], Sent]
) -> tuple[list[float], int, int, float]:
    """``senders`` threads calling ``send`` until ``seconds`` pass: answer times, events taken
    in, errors, elapsed."""
    times: list[float] = []
    taken = errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(k: int) -> None:
        nonlocal taken, errors
        rng = random.Random(k)
        with httpx.Client(timeout=30) as client:
            while time.monotonic() < stop:
                started = time.perf_counter()
                answered: float | None = None
                try:
                    n, answered = send(client, rng)
                except httpx.HTTPError:
                    n = -1
                elapsed = answered if answered is not None else time.perf_counter() - started
                with lock:
                    if n < 0:
                        errors += 1
                    else:
                        times.append(elapsed)
                        taken += n

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, taken, errors, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--senders", type=int, default=2, help="senders of batches")
    parser.add_argument("--rate", type=float, default=200, help="single events a second")
    parser.add_argument("--single-senders", type=int, default=8, help="senders of single events")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    opts = parser.parse_args()
    print(f"event intake on PostgreSQL 15, {opts.customers:,} customers, {psutil.cpu_count()} CPUs")
    settings = ("fsync=on", "shared_buffers=512MB", "max_connections=200")
    with pg_server(*settings) as url, tempfile.TemporaryDirectory(prefix="weiwan-ev-") as tmp:
        home = Path(tmp)
        engine = make_engine(url)
        with engine.connect() as conn:
            backend = int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
        postmaster = psutil.Process(backend).parent()
        assert postmaster is not None
        load(engine, opts.customers)
        publish_rules(engine)
        with session_scope(engine) as session:
            token = create_token(session, "bench")
        headers = {"Authorization": f"Bearer {token}"}
        with serve(url, home, opts.workers) as server:
            intake = f"{server.base}/api/v1/events"
            meter = CpuMeter(server, postmaster)
            ids = Ids("batch")

            def batch(client: httpx.Client, rng: random.Random) -> Sent:
                body = {"events": _events(ids.take(opts.batch), opts.customers, rng)}
                answer = client.post(intake, json=body, headers=headers)
                if answer.status_code != 202:
                    return -1, None
                return int(answer.json()["accepted"]), None

            t0, app0, pg0, _ = meter.sample()
            times, taken, errors, elapsed = run_senders(opts.senders, opts.seconds, batch)
            t1, app1, pg1, _ = meter.sample()
            rate = taken / elapsed
            print(
                f"\n1. batches of {opts.batch} from {opts.senders} senders for {elapsed:.0f} s: "
                f"{rate:,.0f} events/s taken in ({taken:,} events, {errors} errors); "
                f"batch answer (= event → task committed) p50 {_pct(times, 0.5):,.0f} ms, "
                f"p99 {_pct(times, 0.99):,.0f} ms; CPU s/s app {(app1 - app0) / (t1 - t0):.2f}, "
                f"PostgreSQL {(pg1 - pg0) / (t1 - t0):.2f}"
            )
            met = rate >= 1000 and _pct(times, 0.99) <= 1000 and not errors
            print(f"   target ≥ 1,000 events/s with p99 ≤ 1 s: {'met' if met else 'NOT met'}")
            interval = opts.single_senders / opts.rate

            single = paced(intake, headers, Ids("single"), interval, opts.customers)
            times, taken, errors, elapsed = run_senders(opts.single_senders, opts.seconds, single)
            p99 = _pct([t for t in times], 0.99)
            print(
                f"2. single events at {taken / elapsed:,.0f}/s (asked {opts.rate:,.0f}/s): "
                f"p50 {_pct(times, 0.5):,.1f} ms, p99 {p99:,.1f} ms, mean "
                f"{statistics.mean(times) * 1000 if times else float('nan'):,.1f} ms, "
                f"{errors} errors; target p99 ≤ 50 ms: "
                f"{'met' if p99 <= 50 and not errors else 'NOT met'}"
            )
        os.environ["WEIWAN_EVENTS_PROCESS_AT_INTAKE"] = "false"
        worker_env = {**os.environ, "WEIWAN_DATABASE_URL": url, "WEIWAN_HOME": str(home)}
        with serve(url, home, opts.workers) as server:
            worker = subprocess.Popen(
                [sys.executable, "-m", "weiwan", "events", "process", "--follow"],
                env=worker_env,
                stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                intake = f"{server.base}/api/v1/events"
                meter = CpuMeter(server, postmaster)

                stored_only = paced(intake, headers, Ids("later"), interval, opts.customers)

                t0, app0, pg0, _ = meter.sample()
                cpu0 = _cpu(worker.pid)
                times, taken, errors, elapsed = run_senders(
                    opts.single_senders, opts.seconds, stored_only
                )
                t1, app1, pg1, _ = meter.sample()
                cpu1 = _cpu(worker.pid)
                time.sleep(3)  # the worker finishes the last ones
            finally:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(timeout=30)
        lags = _lags(engine, "later-")
        p99 = _pct(times, 0.99)
        print(
            f"3. single events, stored at intake and processed by `weiwan events process "
            f"--follow`: {taken / elapsed:,.0f}/s (asked {opts.rate:,.0f}/s), answer p50 "
            f"{_pct(times, 0.5):,.1f} ms, p99 {p99:,.1f} ms, {errors} errors; received → "
            f"processed p50 {_pct(lags, 0.5):,.0f} ms, p99 {_pct(lags, 0.99):,.0f} ms "
            f"({len(lags):,} events); CPU s/s app {(app1 - app0) / (t1 - t0):.2f}, worker "
            f"{(cpu1 - cpu0) / (t1 - t0):.2f}, PostgreSQL {(pg1 - pg0) / (t1 - t0):.2f}; "
            f"target answer p99 ≤ 50 ms: {'met' if p99 <= 50 and not errors else 'NOT met'}"
        )
        with session_scope(engine) as session:
            statuses = dict(
                session.execute(
                    sa.select(EventRecord.status, sa.func.count()).group_by(EventRecord.status)
                ).all()
            )
        print(f"4. events by status after the run (backlog = received): {statuses}")
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
