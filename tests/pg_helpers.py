"""A PostgreSQL database of a test's own on the session's throw-away server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from weiwan.core.db import make_engine
from weiwan.ops.migrate import upgrade


@contextmanager
def pg_database(server: str, prefix: str, *, migrate: bool = True) -> Iterator[sa.Engine]:
    """A new database ``<prefix>_<random>`` on ``server`` (migrated to head unless told not
    to), dropped after."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = make_engine(server).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(server.rsplit("/", 1)[0] + f"/{name}")
    if migrate:
        upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
