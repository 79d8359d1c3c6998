"""Event intake: a source's bearer token (hashed at rest, revocable, audited), idempotent by
(source, event id), each bad event refused with its index and reason and kept as a dead letter
while the good ones of the batch are taken in, 429 with Retry-After when the backlog is full;
one event's status for the centre's managers and analysts, in their scope, the number
masked for roles that may not see it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from api_helpers import login
from customer_fixtures import publish_customers
from event_fixtures import EVENT_TOKEN, SOURCE, bearer, event, seed_event, seed_event_token
from weiwan.core.db import session_scope
from weiwan.core.settings import Settings
from weiwan.ops.events.models import EventDeadLetter, EventRecord, ServiceToken
from weiwan.ops.events.tokens import create_token, revoke_token
from weiwan.ops.org.models import AuditEvent
from weiwan.web.app import create_app

API = "/api/v1/events"


@pytest.fixture
def source(engine: Engine, people: dict[str, int]) -> Engine:
    seed_event_token(engine)
    return engine


def _post(
    app: FastAPI, events: list[object], token: str = EVENT_TOKEN
) -> tuple[int, dict[str, Any]]:
    answer = TestClient(app).post(API, json={"events": events}, headers=bearer(token))
    return answer.status_code, answer.json()


def _stored(engine: Engine) -> list[EventRecord]:
    with session_scope(engine) as session:
        rows = list(session.scalars(select(EventRecord).order_by(EventRecord.event_id)))
        session.expunge_all()
        return rows


def test_a_batch_is_taken_in_once_and_bad_events_are_refused_one_by_one(
    app: FastAPI, source: Engine
) -> None:
    batch: list[object] = [
        event("e-1"),
        event("e-2", type="call_forwarding_on", attributes={"target_network": "china_unicom"}),
        event("e-3", type="call_forwarding_on", attributes={"target": "x"}),  # misspelt
        event("e-1"),  # twice in one batch
        event(
            "e-4",
            subscriber_id=None,
            msisdn="13800000004",
            type="complaint",
            attributes={"category": "signal", "severity": "high"},
        ),
        event("e-5", subscriber_id=None),  # nobody
        event("e-6", time="2026-12-05T10:00:00"),  # no offset
        event("e-7", time=(datetime.now(UTC) + timedelta(days=1)).isoformat()),  # tomorrow
        "not an event",
    ]
    code, body = _post(app, batch)
    assert code == 202, body
    assert body["accepted"] == 3 and body["duplicates"] == 1
    assert body["rejected"] == [
        {"index": 2, "reason": "attributes.target_network: Field required"},
        {"index": 5, "reason": "(event): give subscriber_id or msisdn"},
        {"index": 6, "reason": "time: Input should have timezone info"},
        {"index": 7, "reason": "time: more than 10 minutes ahead"},
        {"index": 8, "reason": "(event): expected an object"},
    ]
    stored = _stored(source)
    # processed at once (test_processing.py): here no customer is published
    assert [(e.event_id, e.source, e.status, e.note) for e in stored] == [
        (i, SOURCE, "ignored", "unknown subscriber") for i in ("e-1", "e-2", "e-4")
    ]
    assert json.loads(stored[1].attributes) == {"target_network": "china_unicom"}
    # the same batch again (a retry after a lost answer): nothing new, nothing twice
    code, again = _post(app, batch)
    assert code == 202 and again["accepted"] == 0 and again["duplicates"] == 4
    assert len(_stored(source)) == 3
    with session_scope(source) as session:
        letters = list(session.scalars(select(EventDeadLetter).order_by(EventDeadLetter.id)))
        assert [(d.position, d.event_id) for d in letters[:5]] == [
            (2, "e-3"), (5, "e-5"), (6, "e-6"), (7, "e-7"), (8, None)
        ]  # fmt: skip
        assert json.loads(letters[0].payload)["attributes"] == {"target": "x"}
        assert letters[4].payload == '"not an event"'


def test_only_a_live_token_takes_events_in(app: FastAPI, source: Engine) -> None:
    assert _post(app, [event("x-1")], token="wwe_wrong")[0] == 401
    client = TestClient(app)
    assert client.post(API, json={"events": [event("x-1")]}).status_code == 401  # no token
    basic = {"Authorization": f"Basic {EVENT_TOKEN}"}
    assert client.post(API, json={"events": [event("x-1")]}, headers=basic).status_code == 401
    # a user's session is no credential for intake, and the token opens nothing else
    director = login(app, "director")
    assert director.post(API, json={"events": [event("x-1")]}).status_code == 401
    assert client.get("/api/v1/customers", headers=bearer()).status_code == 401
    with session_scope(source) as session:
        revoke_token(session, SOURCE)
    assert _post(app, [event("x-1")])[0] == 401
    assert _stored(source) == []
    # a bad body is named, a batch too large refused as a whole
    assert TestClient(app).post(API, json={"events": []}, headers=bearer()).status_code == 401


def test_tokens_are_hashed_at_rest_unique_per_source_and_audited(
    engine: Engine, people: dict[str, int]
) -> None:
    with session_scope(engine) as session:
        token = create_token(session, "billing")
    assert token.startswith("wwe_") and len(token) > 40
    with session_scope(engine) as session:
        stored = session.scalar(select(ServiceToken).where(ServiceToken.name == "billing"))
        assert stored is not None and token not in stored.token_hash and stored.scope == "events"
        with pytest.raises(Exception, match="exists"):
            create_token(session, "billing")
        with pytest.raises(Exception, match="source name"):
            create_token(session, "Bad Name!")
        revoke_token(session, "billing")
        actions = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "service_token")
        ).all()
        assert [json.loads(a or "{}") for a in actions] == [{"created": True}, {"revoked": True}]


def test_a_full_backlog_answers_429_with_retry_after(
    engine: Engine, people: dict[str, int], tmp_path: Path
) -> None:
    seed_event_token(engine)
    app = create_app(
        Settings(
            home=tmp_path,
            secret_key="test-secret",
            events_max_backlog=2,
            events_process_at_intake=False,  # a consumer's work: here nobody does it
        ),
        engine,
    )
    assert _post(app, [event("b-1"), event("b-2")])[0] == 202
    answer = TestClient(app).post(API, json={"events": [event("b-3")]}, headers=bearer())
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "5"
    assert answer.json()["message"] == "请求过多，请稍后再试"  # for people, beside detail
    english = TestClient(app).post(
        API, json={"events": [event("b-3")]}, headers={**bearer(), "Accept-Language": "en"}
    )
    assert english.json()["message"] == "Too many requests; try again later"
    assert english.json()["detail"] == answer.json()["detail"]
    assert int(english.headers["content-length"]) == len(english.content)
    assert len(_stored(engine)) == 2  # nothing taken in


def test_one_events_status_in_the_readers_scope(
    app: FastAPI, source: Engine, branches: dict[str, int]
) -> None:
    publish_customers(source, branches["city"], 2)  # S00001, S00002 in the city branch
    seed_event(source, "city-1", "S00001")
    seed_event(source, "far-1", "S99999")  # a customer of no branch the head sees
    director = login(app, "director").get(f"{API}/city-1")
    assert director.status_code == 200, director.text
    body = director.json()
    assert body["status"] == "received" and body["type"] == "port_out_code_request"
    assert body["msisdn"] == "13800000001" and body["attributes"] == {"channel": "sms"}
    analyst = login(app, "analyst").get(f"{API}/city-1").json()
    assert analyst["msisdn"] != "13800000001" and analyst["msisdn"].endswith("0001")
    with session_scope(source) as session:  # the full number the director saw is audited
        views = session.scalars(
            select(AuditEvent.target_id).where(AuditEvent.action == "pii_view")
        ).all()
        assert list(views) == [f"{SOURCE}:city-1"]
    head = login(app, "head")
    assert head.get(f"{API}/city-1").status_code == 200
    assert head.get(f"{API}/far-1").status_code == 404  # outside the branch: as if absent
    assert login(app, "director").get(f"{API}/far-1").status_code == 200
    assert login(app, "agent").get(f"{API}/city-1").status_code == 403
    seed_event(source, "city-1", "S00002", source="other-source")
    assert login(app, "director").get(f"{API}/city-1").status_code == 409
    chosen = login(app, "director").get(f"{API}/city-1", params={"source": "other-source"})
    assert chosen.json()["subscriber_id"] == "S00002"


def test_the_cli_creates_lists_and_revokes_tokens(
    engine: Engine, people: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from weiwan.cli import app as cli
    from weiwan.core.settings import get_settings

    monkeypatch.setenv("WEIWAN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        created = runner.invoke(cli, ["events", "token", "create", "--name", "crm"])
        assert created.exit_code == 0, created.output
        token = created.output.strip()
        listed = runner.invoke(cli, ["events", "token", "list", "--json"])
        assert json.loads(listed.output)[0]["name"] == "crm" and token not in listed.output
        assert runner.invoke(cli, ["events", "token", "revoke", "--name", "crm"]).exit_code == 0
        again = runner.invoke(cli, ["events", "token", "create", "--name", "crm"])
        assert again.exit_code != 0 and "exists" in again.output
    finally:
        get_settings.cache_clear()
    with session_scope(engine) as session:
        count = session.scalar(select(func.count()).select_from(ServiceToken))
        assert count == 1
