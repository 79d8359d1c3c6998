"""Fresh operational databases for each test (SQLite file and PostgreSQL), one user per role
and the web app on them; imported by the conftest of tests/ops and tests/web."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import Engine, text

from api_helpers import PASSWORD, PEOPLE
from weiwan.core.db import make_engine, session_scope
from weiwan.core.settings import Settings
from weiwan.ops.org.models import Branch, Team
from weiwan.ops.org.schemas import UserCreate
from weiwan.ops.org.service import create_user
from weiwan.ops.reports.live import forget_live_figures
from weiwan.web.app import bind_app, create_app


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database of its own: SQLite (temp file) or PostgreSQL."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    server_url: str = request.getfixturevalue("postgres_url")
    name = f"ops_{uuid.uuid4().hex[:16]}"
    admin = make_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(server_url.rsplit("/", 1)[0] + f"/{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def engine(request: pytest.FixtureRequest, empty_engine: Engine) -> Engine:
    """``empty_engine``'s database migrated to head: replaced by a copy of one database
    migrated once per session (``_migrated_sqlite`` / ``_migrated_postgres`` in
    tests/conftest.py: a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL),
    5–10 times faster than running the migrations for every test."""
    url = empty_engine.url
    empty_engine.dispose()
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        shutil.copyfile(request.getfixturevalue("_migrated_sqlite"), url.database)
        return empty_engine
    template: str = request.getfixturevalue("_migrated_postgres")
    server_url: str = request.getfixturevalue("postgres_url")
    admin = make_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{url.database}" TEMPLATE "{template}"'))
    finally:
        admin.dispose()
    return empty_engine


@pytest.fixture
def branches(engine: Engine) -> dict[str, int]:
    """A city branch with two rural sub-branches, another city branch, and one team each."""
    with session_scope(engine) as session:
        city = Branch(code="HZ", name_zh="杭州分公司", name_en="Hangzhou")
        other = Branch(code="NB", name_zh="宁波分公司", name_en="Ningbo")
        session.add_all([city, other])
        session.flush()
        rural_a = Branch(code="HZ-CA", name_zh="淳安支局", name_en="Chun'an", parent_id=city.id)
        rural_b = Branch(code="HZ-JD", name_zh="建德支局", name_en="Jiande", parent_id=city.id)
        session.add_all([rural_a, rural_b])
        session.flush()
        team = Team(branch_id=city.id, name="早班")
        session.add(team)
        session.flush()
        return {
            "city": city.id,
            "other": other.id,
            "rural_a": rural_a.id,
            "rural_b": rural_b.id,
            "team": team.id,
        }


@pytest.fixture
def people(engine: Engine, branches: dict[str, int]) -> dict[str, int]:
    """User ids by username, one user per role (see :data:`PEOPLE`), password PASSWORD."""
    ids: dict[str, int] = {}
    with session_scope(engine) as session:
        for username, (role, branch, in_team) in PEOPLE.items():
            user = create_user(
                session,
                UserCreate(
                    username=username,
                    display_name=username.title(),
                    password=PASSWORD,
                    role=role,
                    branch_id=branches[branch],
                    team_id=branches["team"] if in_team else None,
                ),
            )
            ids[username] = user.id
    return ids


#: one app per worker and settings (the home aside), by the settings' JSON
_APPS: dict[str, FastAPI] = {}


@pytest.fixture
def app(engine: Engine, tmp_path: Path) -> FastAPI:
    """The web app on the migrated test database, its home ``tmp_path``.

    One app per worker (and per settings, the home aside) re-bound to each test's database
    and home (``bind_app``), as a server's one app serves every request: building the
    app's ~200 routes (FastAPI does it on the first request) cost 0.3 s a test."""
    settings = Settings(home=tmp_path, secret_key="test-secret")
    key = settings.model_dump_json(exclude={"home"})
    shared = _APPS.get(key)
    if shared is None:
        shared = _APPS[key] = create_app(settings, engine)
    else:
        bind_app(shared, settings, engine)
    return shared


@pytest.fixture(autouse=True)
def _cheap_password_hashing(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """argon2 with tiny parameters: the tests create many users; the hashing itself is tested
    with the real parameters in test_ops_org."""
    if request.module.__name__.endswith("test_ops_org"):
        return
    monkeypatch.setattr(
        "weiwan.ops.org.service._hasher",
        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )


@pytest.fixture(autouse=True)
def _fresh_live_figures() -> None:
    """The dashboards reuse live counts for a minute per database and scope; each test starts
    without them (a test may record contacts and count again at once)."""
    forget_live_figures()
