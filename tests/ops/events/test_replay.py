"""Replaying a simulated operator's event stream into the intake: every event taken in once
(a second replay is all duplicates), the window by time, and the intake's back-pressure waited
out as Retry-After says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from event_fixtures import EVENT_TOKEN, seed_event_token
from weiwan.core.db import session_scope
from weiwan.core.errors import WeiwanError
from weiwan.core.settings import Settings
from weiwan.demo.replay import last_morning, replay, window
from weiwan.ops.base import as_utc
from weiwan.ops.events.models import EventRecord
from weiwan.sim import simulate
from weiwan.sim.event_stream import load_events, time_of
from weiwan.web.app import create_app

URL = "http://testserver/api/v1/events"


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, object]]:
    out = tmp_path_factory.mktemp("replay") / "sim"
    simulate(subscribers=600, months=2, seed=5, out=out, end_month="2026-10", events=True)
    events = load_events(out)
    assert len(events) > 300
    return events


def _stored(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(EventRecord)) or 0)


def test_a_morning_replayed_twice_is_taken_in_once(
    app: FastAPI, engine: Engine, people: dict[str, int], stream: list[dict[str, object]]
) -> None:
    seed_event_token(engine)
    last_day = time_of(stream[-1]).normalize().to_pydatetime()
    morning = last_morning(stream)
    assert 0 < len(morning) < len(stream)
    assert morning == window(stream, last_day.replace(hour=8), last_day.replace(hour=12))
    waits: list[float] = []
    client = TestClient(app)
    done = replay(morning, URL, EVENT_TOKEN, rate=1e6, batch=50, sleep=waits.append, client=client)
    assert done.sent == done.accepted == len(morning) == _stored(engine)
    assert done.duplicates == 0 and done.rejected == [] and done.throttled == 0
    again = replay(morning, URL, EVENT_TOKEN, rate=1e6, batch=50, sleep=waits.append, client=client)
    assert again.accepted == 0 and again.duplicates == len(morning)
    assert _stored(engine) == len(morning)
    assert all(last_day.replace(hour=8) <= time_of(e) < last_day.replace(hour=12) for e in morning)


def test_a_full_backlog_is_waited_out_then_reported(
    engine: Engine, people: dict[str, int], stream: list[dict[str, object]], tmp_path: Path
) -> None:
    seed_event_token(engine)
    app = create_app(
        Settings(
            home=tmp_path,
            secret_key="test-secret",
            events_max_backlog=20,
            events_process_at_intake=False,
        ),
        engine,
    )
    waits: list[float] = []
    with pytest.raises(WeiwanError, match="still refused"):
        client = TestClient(app)
        replay(stream[:60], URL, EVENT_TOKEN, rate=1e6, batch=20, sleep=waits.append, client=client)
    assert _stored(engine) == 20  # the first batch; nothing after the backlog filled
    assert waits.count(5.0) == 6  # every 429's Retry-After waited out, then given up


def test_the_demos_morning_happens_now(
    app: FastAPI, engine: Engine, people: dict[str, int], stream: list[dict[str, object]]
) -> None:
    """``as_now``: each event is stamped with the moment it is sent (the demo's live morning),
    so its task is due from now, not from the simulated past."""
    seed_event_token(engine)
    morning = stream[:5]
    before = datetime.now(UTC)
    done = replay(morning, URL, EVENT_TOKEN, rate=1e6, batch=1, client=TestClient(app), as_now=True)
    assert done.accepted == 5
    with session_scope(engine) as session:
        times = session.scalars(select(EventRecord.occurred_at)).all()
    assert all(before - timedelta(seconds=1) <= as_utc(t) <= datetime.now(UTC) for t in times)
