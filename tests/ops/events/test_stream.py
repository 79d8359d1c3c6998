"""The Redis Streams consumer against a real redis-server: entries taken in and processed like
the API's, acknowledged only after the commit; bad entries become dead letters; an entry read
and not acknowledged (a crash) is read again by the same consumer or taken over by another,
and counted as a duplicate, never acted on twice; a consumer killed with SIGKILL mid-stream
loses no event and doubles no task."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, func, select

from customer_fixtures import publish_customers
from event_fixtures import event
from weiwan.core.db import session_scope
from weiwan.ops.events.models import EventDeadLetter, EventRecord
from weiwan.ops.events.stream import StreamConsumer, StreamSettings
from weiwan.ops.tasks.models import Task

from .test_processing import PORT_OUT, publish_alert_rules

#: customers outside the port-out rule's hold-out
REACHED = [f"S{n:05d}" for n in range(1, 200) if not PORT_OUT.holds_out(f"S{n:05d}")]


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def stream() -> str:
    """A stream of the test's own on the shared server."""
    return f"test:{uuid.uuid4().hex}"


def _write(client: redis.Redis, stream: str, events: list[Any]) -> None:
    for item in events:
        fields = item if isinstance(item, dict) and "_fields" in item else None
        if fields is not None:
            client.xadd(stream, fields["_fields"])
        else:
            client.xadd(stream, {"event": item if isinstance(item, str) else json.dumps(item)})


def _settings(stream: str, consumer: str = "c1", **changes: Any) -> StreamSettings:
    return StreamSettings(stream=stream, consumer=consumer, source="crm-stream", **changes)


def _pending(client: redis.Redis, stream: str) -> int:
    return int(client.xpending(stream, "weiwan")["pending"])


def _counts(engine: Engine) -> tuple[int, int, int]:
    with session_scope(engine) as session:
        events = session.scalar(select(func.count()).select_from(EventRecord)) or 0
        letters = session.scalar(select(func.count()).select_from(EventDeadLetter)) or 0
        tasks = session.scalar(select(func.count()).where(Task.origin.like("event:%"))) or 0
    return int(events), int(letters), int(tasks)


def test_entries_are_taken_in_processed_and_acknowledged(
    engine: Engine, branches: dict[str, int], client: redis.Redis, stream: str
) -> None:
    publish_customers(engine, branches["city"], 200)
    publish_alert_rules(engine)
    customers = REACHED[:10]
    good = [event(f"s-{n}", customers[n % 10]) for n in range(30)]  # 3 requests each
    bad = ["{not json", event("s-bad", customers[0], type="no_such_type"), {"_fields": {"x": "1"}}]
    _write(client, stream, [*good[:15], *bad, *good[15:]])
    reader = StreamConsumer(client, engine, _settings(stream, batch=8))
    total = reader.run(once=True)
    assert (total.read, total.accepted, total.rejected) == (33, 30, 3)
    assert total.acknowledged == 33 and _pending(client, stream) == 0
    assert _counts(engine) == (30, 3, 10)  # one task per customer
    with session_scope(engine) as session:
        reasons = sorted(session.scalars(select(EventDeadLetter.reason)))
        sources = set(session.scalars(select(EventRecord.source)))
    assert reasons[0] == "entry: no field 'event'" and reasons[1].startswith("event: not JSON")
    assert reasons[2].startswith("type:") and sources == {"crm-stream"}
    _write(client, stream, good[:5])  # sent again: duplicates, acknowledged, nothing new
    again = StreamConsumer(client, engine, _settings(stream)).run(once=True)
    assert (again.accepted, again.duplicates) == (0, 5) and _counts(engine) == (30, 3, 10)


def test_entries_read_and_not_acknowledged_are_read_again_once(
    engine: Engine, branches: dict[str, int], client: redis.Redis, stream: str
) -> None:
    """A consumer dies after its commit, before XACK: restarted, it reads its own pending
    entries first; a consumer that never comes back has them taken over by another after the
    idle time. Either way the events count as duplicates and make no second task."""
    publish_customers(engine, branches["city"], 200)
    publish_alert_rules(engine)
    _write(client, stream, [event(f"p-{n}", REACHED[n]) for n in range(12)])

    class CrashError(Exception):
        pass

    def no_ack(*_args: object) -> int:
        raise CrashError

    dying = StreamConsumer(client, engine, _settings(stream, batch=6))
    dying.ensure_group()
    real_ack = client.xack
    setattr(client, "xack", no_ack)  # noqa: B010 (the crash between commit and XACK)
    try:
        with pytest.raises(CrashError):
            dying.poll()  # first 6 committed, not acknowledged
        with pytest.raises(CrashError):
            StreamConsumer(client, engine, _settings(stream, consumer="c2", batch=6)).poll()
    finally:
        setattr(client, "xack", real_ack)  # noqa: B010
    assert _pending(client, stream) == 12 and _counts(engine)[0] == 12
    restarted = StreamConsumer(client, engine, _settings(stream, batch=6)).poll()
    assert (restarted.read, restarted.duplicates, restarted.acknowledged) == (6, 6, 6)
    other = StreamConsumer(client, engine, _settings(stream, consumer="c3", claim_idle_ms=0))
    taken = other.poll()  # c2 never came back: its entries are taken over
    assert (taken.read, taken.duplicates) == (6, 6) and _pending(client, stream) == 0
    assert _counts(engine) == (12, 0, 12)


@pytest.mark.parametrize("empty_engine", ["postgresql"], indirect=True)
def test_a_consumer_killed_mid_stream_loses_no_event_and_doubles_no_task(
    engine: Engine,
    branches: dict[str, int],
    client: redis.Redis,
    redis_url: str,
    stream: str,
    tmp_path: Path,
) -> None:
    publish_customers(engine, branches["city"], 150)
    publish_alert_rules(engine)
    # 400 port-out requests for 150 customers, most customers twice or more
    _write(client, stream, [event(f"k-{n:04d}", f"S{n % 150 + 1:05d}") for n in range(400)])
    env = {
        **os.environ,
        "WEIWAN_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "WEIWAN_HOME": str(tmp_path),
    }
    command = [
        sys.executable, "-m", "weiwan", "events", "consume", "--redis", redis_url,
        "--stream", stream, "--source", "crm-stream", "--consumer", "k1", "--batch", "5",
    ]  # fmt: skip
    first = subprocess.Popen(command, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while _counts(engine)[0] < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)  # mid-stream
    first.wait()
    cut_at = _counts(engine)[0]
    assert 0 < cut_at < 400
    done = subprocess.run(
        [*command, "--once", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    with session_scope(engine) as session:
        waiting = session.scalar(select(func.count()).where(EventRecord.status == "received"))
        per_customer = session.execute(
            select(Task.subscriber_id, func.count())
            .where(Task.origin.like("event:%"))
            .group_by(Task.subscriber_id)
        ).all()
    assert _counts(engine)[0] == 400 and waiting == 0 and _pending(client, stream) == 0
    assert per_customer and max(n for _, n in per_customer) == 1
