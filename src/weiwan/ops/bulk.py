"""Bulk inserts that skip rows a unique key already holds, on PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from weiwan.ops.base import Base


def insert_ignoring_duplicates(
    session: Session, model: type[Base], rows: Sequence[dict[str, Any]]
) -> int:
    """INSERT … ON CONFLICT DO NOTHING of ``rows``; the number actually inserted."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = model.__table__
    key = list(table.primary_key.columns)  # type: ignore[attr-defined]
    statement = insert(table).on_conflict_do_nothing().returning(*key)  # type: ignore[arg-type]
    # RETURNING yields only the rows really inserted (rowcount is unreliable for executemany)
    return len(session.execute(statement, list(rows)).all())
