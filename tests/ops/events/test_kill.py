"""At-least-once intake, exactly-once effects, on PostgreSQL: the server killed with SIGKILL in
the middle of a replay loses no event and creates no second task — an event is taken in and
processed in one transaction (a killed request stored nothing), the sender retries, and intake
is idempotent per event id; two requests for the same customers at once make one task each."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select

from customer_fixtures import publish_customers
from event_fixtures import EVENT_TOKEN, event, seed_event_token
from weiwan.core.db import session_scope
from weiwan.demo.replay import ReplayResult, replay
from weiwan.ops.events.models import EventRecord
from weiwan.ops.tasks.models import Task

from .test_processing import publish_alert_rules

pytestmark = pytest.mark.parametrize("empty_engine", ["postgresql"], indirect=True)
OTHER_TOKEN = "wwe_second-source-token-0123456789abcdefghijklmn"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(url: str, home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "WEIWAN_DATABASE_URL": url,
        "WEIWAN_HOME": str(home),
        "WEIWAN_SECRET_KEY": "kill-test",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "weiwan", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=1.0)
            return process
        except httpx.TransportError:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError("the server did not start")


def test_a_server_killed_mid_stream_loses_no_event_and_doubles_no_task(
    engine: Engine, people: dict[str, int], branches: dict[str, int], tmp_path: Path
) -> None:
    publish_customers(engine, branches["city"], 150)
    publish_alert_rules(engine)
    seed_event_token(engine)
    # 400 port-out requests for 150 customers: most customers twice or more
    events = [event(f"k-{n:04d}", f"S{n % 150 + 1:05d}") for n in range(400)]
    url = engine.url.render_as_string(hide_password=False)
    port = _free_port()
    server = _serve(url, tmp_path, port)
    result: list[ReplayResult] = []
    sender = threading.Thread(
        target=lambda: result.append(
            replay(events, f"http://127.0.0.1:{port}/api/v1/events", EVENT_TOKEN, rate=150, batch=5)
        )
    )
    try:
        sender.start()
        time.sleep(1.0)  # mid-stream
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        server = _serve(url, tmp_path, port)
        sender.join(timeout=120)
        assert not sender.is_alive(), "the replay did not finish"
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    (done,) = result
    assert done.sent == 400 and done.rejected == [] and done.retried >= 1  # it was cut off
    with session_scope(engine) as session:
        stored = session.scalar(select(func.count()).select_from(EventRecord))
        waiting = session.scalar(
            select(func.count()).select_from(EventRecord).where(EventRecord.status == "received")
        )
        per_customer = session.execute(
            select(Task.subscriber_id, func.count())
            .where(Task.origin.like("event:%"))
            .group_by(Task.subscriber_id)
        ).all()
    assert stored == 400 and waiting == 0  # every event once, every one processed
    assert done.accepted + done.duplicates >= 400  # a batch killed after commit is a duplicate
    assert per_customer and max(n for _, n in per_customer) == 1  # no customer called twice


def test_two_requests_for_the_same_customer_at_once_make_one_task(
    app: FastAPI, engine: Engine, people: dict[str, int], branches: dict[str, int]
) -> None:
    """Port-out requests for the same customers posted by two sources at the same moment: each
    customer gets one task (the second request waits for the first's and sees it)."""
    from fastapi.testclient import TestClient

    from ops.race import race

    publish_customers(engine, branches["city"], 30)
    publish_alert_rules(engine)
    seed_event_token(engine)
    seed_event_token(engine, name="crm-b", token=OTHER_TOKEN)
    customers = [f"S{n:05d}" for n in range(1, 31)]

    def post(token: str, prefix: str) -> int:
        batch = [event(f"{prefix}-{sid}", sid) for sid in customers]
        answer = TestClient(app).post(
            "/api/v1/events", json={"events": batch}, headers={"Authorization": f"Bearer {token}"}
        )
        return int(answer.status_code)

    for round_ in range(3):
        results = race(
            [partial(post, EVENT_TOKEN, f"a{round_}"), partial(post, OTHER_TOKEN, f"b{round_}")]
        )
        assert results == [202, 202], results
    with session_scope(engine) as session:
        per_customer = session.execute(
            select(Task.subscriber_id, func.count())
            .where(Task.origin.like("event:%"))
            .group_by(Task.subscriber_id)
        ).all()
        events = session.scalar(select(func.count()).select_from(EventRecord))
    assert events == 3 * 2 * 30
    assert per_customer and max(n for _, n in per_customer) == 1
