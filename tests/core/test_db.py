"""The operational DB layer against the real engines: PostgreSQL (production) and SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Integer, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from weiwan.core.db import engine_for, make_engine, session_scope
from weiwan.core.settings import Settings


class _Base(DeclarativeBase):
    pass


class _Note(_Base):
    __tablename__ = "test_note"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(String(50), unique=True)


def _roundtrip(url: str) -> None:
    engine = make_engine(url)
    _Base.metadata.drop_all(engine)
    _Base.metadata.create_all(engine)
    with session_scope(engine) as session:
        session.add(_Note(text="维挽"))
    with pytest.raises(Exception, match=r"(?i)unique"), session_scope(engine) as session:
        session.add(_Note(text="维挽"))  # violates the unique constraint: rolled back
    with session_scope(engine) as session:
        assert session.scalars(select(_Note.text)).all() == ["维挽"]
    _Base.metadata.drop_all(engine)
    engine.dispose()


@pytest.mark.postgres
def test_session_scope_commits_and_rolls_back_on_postgres(postgres_url: str) -> None:
    _roundtrip(postgres_url)


def test_session_scope_commits_and_rolls_back_on_sqlite(tmp_path: Path) -> None:
    _roundtrip(f"sqlite:///{tmp_path / 'ops.db'}")


def test_settings_default_to_embedded_stores_under_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEIWAN_HOME", str(tmp_path / "state"))
    settings = Settings()
    assert settings.warehouse_file == tmp_path / "state" / "warehouse.duckdb"
    assert settings.database == f"sqlite:///{tmp_path / 'state' / 'weiwan.db'}"
    engine = engine_for(settings)
    assert (tmp_path / "state").is_dir()
    engine.dispose()


def test_settings_read_postgres_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+psycopg://u:p@db:5432/weiwan"
    monkeypatch.setenv("WEIWAN_DATABASE_URL", url)
    assert Settings().database == url


def test_reason_scope_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().reasons_for == "at_risk"
    monkeypatch.setenv("WEIWAN_REASONS_FOR", "all")
    assert Settings().reasons_for == "all"
    monkeypatch.setenv("WEIWAN_REASONS_FOR", "everyone")
    with pytest.raises(ValidationError, match="reasons_for"):
        Settings()


@pytest.mark.postgres
def test_pool_keeps_the_configured_connections_open_on_postgres(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connections up to ``db_pool_size`` stay open when returned; beyond it, within
    ``db_max_overflow``, they are opened for the request and closed afterwards."""
    monkeypatch.setenv("WEIWAN_DATABASE_URL", postgres_url)
    monkeypatch.setenv("WEIWAN_DB_POOL_SIZE", "3")
    monkeypatch.setenv("WEIWAN_DB_MAX_OVERFLOW", "1")
    engine = engine_for(Settings())
    engine.pool._timeout = 0.1  # type: ignore[attr-defined]  # fail fast when exhausted
    held = [engine.connect() for _ in range(4)]
    with pytest.raises(Exception, match=r"(?i)(limit|timeout)"):
        engine.connect()
    for connection in held:
        connection.close()
    assert engine.pool.checkedin() == 3  # type: ignore[attr-defined]
    engine.dispose()
    monkeypatch.setenv("WEIWAN_DB_POOL_SIZE", "0")
    with pytest.raises(ValidationError, match="db_pool_size"):
        Settings()
