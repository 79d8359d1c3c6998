"""Operational database engine and sessions (SQLite embedded, PostgreSQL in production)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from weiwan.core.files import private_dir, private_file
from weiwan.core.settings import DB_MAX_OVERFLOW, DB_POOL_SIZE, Settings


def make_engine(
    url: str, *, pool_size: int = DB_POOL_SIZE, max_overflow: int = DB_MAX_OVERFLOW
) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys and WAL so it behaves like a server DB.

    On a server database the pool keeps ``pool_size`` connections per process: the web app's
    worker threads (40 by default) each hold one while a request runs, and a connection opened
    beyond the pool is closed again when returned, which under load means one new server
    process per request.
    """
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            private_file(Path(database))  # 0600 before SQLite creates it with the umask's mode
        engine = create_engine(url, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    # No pre-ping (a round trip before every request): a connection the server dropped fails
    # one request, which answers 503, and SQLAlchemy then replaces the pool's connections.
    return create_engine(url, pool_recycle=1800, pool_size=pool_size, max_overflow=max_overflow)


def engine_for(settings: Settings) -> Engine:
    """The engine named by the settings; creates the home dir (0700) for the SQLite default."""
    if settings.database.startswith("sqlite"):
        private_dir(settings.home)
    return make_engine(
        settings.database, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
    )


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
