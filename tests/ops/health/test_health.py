"""/healthz and /readyz: no login, no data; ready when the database answers, the schema is at
this release's head and today's publication is there or not yet due; 503 naming what fails."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from weiwan.core.db import make_engine, session_scope
from weiwan.core.settings import Settings
from weiwan.ops.customers.models import Publication
from weiwan.ops.health.service import readiness
from weiwan.web.app import create_app

TZ = ZoneInfo("Asia/Shanghai")


def _published(engine: Engine, at: datetime) -> None:
    with session_scope(engine) as session:
        session.merge(
            Publication(kind="customers", snapshot_date=at.date(), rows=10, published_at=at)
        )


def test_readiness_follows_the_days_publication(engine: Engine) -> None:
    local_now = datetime(2026, 12, 5, 9, 30, tzinfo=TZ)
    with session_scope(engine) as session:
        early = readiness(session, local_now, TZ, time(10, 0))
        late = readiness(session, local_now, TZ, time(8, 0))
    assert early.ready and early.publication == "not yet due" and early.migrations == "ok"
    assert not late.ready and late.publication == "late"
    assert late.problems == ["publication: none today (due 08:00 local time)"]
    _published(engine, local_now - timedelta(days=1))  # yesterday's only
    with session_scope(engine) as session:
        assert not readiness(session, local_now, TZ, time(8, 0)).ready
    _published(engine, local_now.replace(hour=6))
    with session_scope(engine) as session:
        found = readiness(session, local_now, TZ, time(8, 0))
    assert found.ready and found.publication == "ok"
    assert found.latest_publication == local_now.replace(hour=6).astimezone(UTC)


def test_the_probes_answer_without_login_and_name_what_fails(
    engine: Engine, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path, secret_key="x", timezone="Asia/Shanghai")
    client = TestClient(
        create_app(settings.model_copy(update={"publication_due": time(0, 0)}), engine)
    )
    assert client.get("/healthz").json() == {"status": "ok"}
    answer = client.get("/readyz")  # nothing published today, due at midnight: late
    assert answer.status_code == 503 and answer.json()["publication"] == "late"
    _published(engine, datetime.now(UTC))
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert ready.json()["database"] == "ok" and ready.json()["migrations"] == "ok"


def test_an_unmigrated_or_unreachable_database_is_not_ready(tmp_path: Path) -> None:
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        settings = Settings(home=tmp_path, secret_key="x")
        client = TestClient(create_app(settings, empty))
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["database"] == "ok" and answer.json()["migrations"] == "none"
        assert answer.json()["problems"][0].startswith("migrations: at none, this release needs")
    finally:
        empty.dispose()
    gone = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        client = TestClient(create_app(Settings(home=tmp_path, secret_key="x"), gone))
        answer = client.get("/readyz")
        assert answer.status_code == 503 and answer.json()["database"] == "unreachable"
        assert client.get("/healthz").status_code == 200  # alive all the same
    finally:
        gone.dispose()
