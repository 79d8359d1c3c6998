"""Bulk inserts that skip rows a unique key already holds, on PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from weiwan.ops.base import Base

#: rows per INSERT … ON CONFLICT DO NOTHING statement
CHUNK_ROWS = 10_000


def insert_ignoring_duplicates(
    session: Session | Connection,
    model: type[Base],
    rows: Sequence[dict[str, Any]],
    *,
    keys: Sequence[str] | None = None,
    chunk: int = CHUNK_ROWS,
) -> int:
    """INSERT … ON CONFLICT (``keys``, default any unique key) DO NOTHING of ``rows``
    (``chunk`` rows a statement) through a session or a connection; the number actually
    inserted."""
    if not rows:
        return 0
    bind = session if isinstance(session, Connection) else session.get_bind()
    insert = pg_insert if bind.dialect.name == "postgresql" else sqlite_insert
    table = model.__table__
    key = list(table.primary_key.columns)  # type: ignore[attr-defined]
    target = list(keys) if keys is not None else None
    statement = (
        insert(table)  # type: ignore[arg-type]
        .on_conflict_do_nothing(index_elements=target)
        .returning(*key)
    )
    # RETURNING yields only the rows really inserted (rowcount is unreliable for executemany)
    return sum(
        len(session.execute(statement, list(rows[start : start + chunk])).all())
        for start in range(0, len(rows), chunk)
    )
