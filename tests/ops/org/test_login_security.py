"""Login lock-out under parallel guesses, the login throttle, server-side sessions."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import sessionmaker

from api_helpers import PASSWORD, login
from weiwan.core.db import session_scope
from weiwan.core.settings import Settings
from weiwan.ops.base import utcnow
from weiwan.ops.org.models import AuditEvent, User, UserSession
from weiwan.ops.org.service import authenticate
from weiwan.ops.org.sessions import token_digest
from weiwan.ops.org.throttle import LoginPolicy, LoginThrottledError
from weiwan.web.app import create_app

from ..race import race

LOGIN = "/api/v1/auth/login"
#: the throttle out of the way, to see the lock-out alone
NO_THROTTLE = LoginPolicy(per_user=10_000, per_ip=10_000)


def _guess(engine: Engine, password: str, policy: LoginPolicy = NO_THROTTLE) -> bool:
    """One login attempt in its own transaction, as the login route makes it."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as session:
        user = authenticate(session, "agent2", password, ip="10.0.0.9", policy=policy)
        session.commit()
        return user is not None


def test_forty_parallel_wrong_passwords_lock_after_five(
    engine: Engine, people: dict[str, int]
) -> None:
    """40 simultaneous wrong passwords: the counter stops at 5 with the account locked (the
    increment and the lock are one conditional UPDATE), and the right password is refused."""
    results = race([lambda: _guess(engine, "wrong guess")] * 40)
    assert results == [False] * 40, [r for r in results if r is not False]
    with session_scope(engine) as session:
        user = session.get(User, people["agent2"])
        assert user is not None
        assert user.failed_logins == 5
        assert user.locked_until is not None and user.locked_until > utcnow()
        locked = session.scalar(
            select(func.count()).where(AuditEvent.action == "locked", AuditEvent.user_id == user.id)
        )
        assert locked == 1
    assert _guess(engine, PASSWORD) is False


def test_throttle_per_user_name_answers_429_with_retry_after(
    engine: Engine, people: dict[str, int], tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path, secret_key="t", login_throttle_per_user=3)
    app = create_app(settings, engine)
    client = TestClient(app)
    for _ in range(3):
        assert client.post(LOGIN, json={"username": "ghost", "password": "x"}).status_code == 401
    refused = client.post(LOGIN, json={"username": "ghost", "password": "x"})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 15 * 60
    with session_scope(engine) as session:
        details = [
            json.loads(d or "{}")
            for d in session.scalars(
                select(AuditEvent.detail).where(AuditEvent.action == "login_failed")
            )
        ]
    assert {"username": "ghost", "reason": "throttled", "by": "user"} in details
    # another user name from the same address is not held back by this one's failures
    assert login(app, "agent").get("/api/v1/auth/me").status_code == 200
    # once the window has passed the name may try again
    app.state.clock = lambda: utcnow() + timedelta(minutes=16)
    assert client.post(LOGIN, json={"username": "ghost", "password": "x"}).status_code == 401


def test_throttle_per_address_holds_across_user_names(
    engine: Engine, people: dict[str, int], tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path, secret_key="t", login_throttle_per_ip=4)
    app = create_app(settings, engine)
    client = TestClient(app)
    for name in ("u1", "u2", "u3", "agent"):
        assert client.post(LOGIN, json={"username": name, "password": "x"}).status_code == 401
    right = client.post(LOGIN, json={"username": "head", "password": PASSWORD})
    assert right.status_code == 429 and "Retry-After" in right.headers


def test_throttle_is_counted_in_the_database(engine: Engine, people: dict[str, int]) -> None:
    """Two sessions (two server processes) see each other's failures."""
    policy = LoginPolicy(per_user=2, per_ip=100)
    now = utcnow()
    for _ in range(2):
        with session_scope(engine) as session:
            assert (
                authenticate(session, "nobody", "x", ip="10.0.0.1", now=now, policy=policy) is None
            )
    with session_scope(engine) as session, pytest.raises(LoginThrottledError):
        authenticate(session, "nobody", "x", ip="10.0.0.2", now=now, policy=policy)


# --- sessions ------------------------------------------------------------------------------


def _sessions(engine: Engine, user_id: int) -> list[UserSession]:
    with session_scope(engine) as session:
        return list(session.scalars(select(UserSession).where(UserSession.user_id == user_id)))


def test_cookie_replayed_after_logout_is_refused(
    app: FastAPI, engine: Engine, people: dict[str, int]
) -> None:
    client = login(app, "agent")
    cookies = dict(client.cookies.items())
    assert client.post("/api/v1/auth/logout").status_code == 204
    replay = TestClient(app, cookies=cookies)
    assert replay.get("/api/v1/auth/me").status_code == 401
    (record,) = _sessions(engine, people["agent"])
    assert record.end_reason == "logout" and record.ended_at is not None
    assert record.ip == "testclient" and record.user_agent


def test_password_change_ends_every_session_of_the_user(
    app: FastAPI, engine: Engine, people: dict[str, int]
) -> None:
    first, second = login(app, "agent"), login(app, "agent")
    other = login(app, "agent2")
    admin = login(app, "admin")
    changed = admin.patch(
        f"/api/v1/users/{people['agent']}", json={"password": "a-brand-new-pass-77"}
    )
    assert changed.status_code == 200
    assert first.get("/api/v1/auth/me").status_code == 401
    assert second.get("/api/v1/auth/me").status_code == 401
    assert other.get("/api/v1/auth/me").status_code == 200
    assert {s.end_reason for s in _sessions(engine, people["agent"])} == {"password_changed"}


def test_deactivation_and_lock_out_end_the_sessions(
    app: FastAPI, engine: Engine, people: dict[str, int]
) -> None:
    agent, agent2 = login(app, "agent"), login(app, "agent2")
    admin = login(app, "admin")
    assert admin.patch(f"/api/v1/users/{people['agent']}", json={"active": False}).is_success
    assert agent.get("/api/v1/auth/me").status_code == 401
    for _ in range(5):
        TestClient(app).post(LOGIN, json={"username": "agent2", "password": "wrong"})
    assert agent2.get("/api/v1/auth/me").status_code == 401
    assert {s.end_reason for s in _sessions(engine, people["agent"])} == {"deactivated"}
    assert {s.end_reason for s in _sessions(engine, people["agent2"])} == {"locked"}


def test_sessions_end_after_the_absolute_and_the_idle_lifetime(
    engine: Engine, people: dict[str, int], tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path, secret_key="t", session_hours=1, session_absolute_hours=3)
    app = create_app(settings, engine)
    start = utcnow()
    clock = {"now": start}
    app.state.clock = lambda: clock["now"]
    busy, idle = login(app, "agent"), login(app, "agent2")

    def at(moment: datetime) -> None:
        clock["now"] = moment

    # in use every 50 minutes: the idle limit never bites, the absolute one does
    for minutes in (50, 100, 150):
        at(start + timedelta(minutes=minutes))
        assert busy.get("/api/v1/auth/me").status_code == 200
    assert idle.get("/api/v1/auth/me").status_code == 401  # unused for 150 minutes
    at(start + timedelta(hours=3))
    assert busy.get("/api/v1/auth/me").status_code == 401
    assert {s.end_reason for s in _sessions(engine, people["agent"])} == {"expired"}
    assert {s.end_reason for s in _sessions(engine, people["agent2"])} == {"idle"}


def test_the_table_keeps_only_the_tokens_digest(
    app: FastAPI, engine: Engine, people: dict[str, int]
) -> None:
    client = login(app, "agent")
    signed = client.cookies["weiwan_session"]
    token = json.loads(base64.b64decode(signed.split(".")[0] + "=="))["sid"]
    (record,) = _sessions(engine, people["agent"])
    assert record.id == token_digest(token) and token not in record.id
