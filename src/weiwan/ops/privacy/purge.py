"""The retention purge of the operational database (``weiwan purge``).

For each registered place with a time column and a period (``retention.yaml``), the rows older
than the period are deleted (``on_purge = "delete"``) or have their personal fields blanked
(``"anonymise"``: the row stays countable by day, channel and outcome). Batches of
``batch_rows`` rows, one short transaction each, so memory and locks stay bounded whatever the
backlog; audited once with the rows per kind.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, Engine, Table, delete, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from weiwan.core.db import session_scope
from weiwan.core.personal_data import OPS_PLACES, Place
from weiwan.core.retention import PurgeCount, RetentionRules
from weiwan.ops.base import Base
from weiwan.ops.org.service import AuditAction, audit

#: rows changed per transaction
BATCH_ROWS = 5_000


def _cutoff(table: Table, place: Place, day: date) -> date | datetime:
    assert place.time_column is not None
    kind = table.c[place.time_column].type
    if isinstance(kind, Date) and not isinstance(kind, DateTime):
        return day
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _still_personal(table: Table, place: Place) -> ColumnElement[bool]:
    """Rows whose personal fields are not blank yet (so a batch never picks a row twice)."""
    checks = []
    for name, value in place.erase.items():
        column = table.c[name]
        checks.append(column.isnot(None) if value is None else column != value)
    return or_(*checks)


def purge_ops(
    engine: Engine,
    rules: RetentionRules,
    today: date,
    *,
    dry_run: bool = False,
    batch_rows: int = BATCH_ROWS,
) -> list[PurgeCount]:
    """Purge every expired place of the operational database (or count, ``dry_run``) and audit
    the rows per kind (not for a dry run)."""
    done: list[PurgeCount] = []
    for place in OPS_PLACES:
        cutoff_day = rules.cutoff(place.kind, today)
        if cutoff_day is None or place.time_column is None:
            continue
        if place.on_purge == "anonymise" and not place.erase:
            continue
        table = Base.metadata.tables[place.table]
        (key,) = table.primary_key.columns
        expired = table.c[place.time_column] < _cutoff(table, place, cutoff_day)
        if place.on_purge == "anonymise":
            expired = expired & _still_personal(table, place)
        total = 0
        if dry_run:
            with session_scope(engine) as session:
                total = int(
                    session.scalar(select(func.count()).select_from(table).where(expired)) or 0
                )
        else:
            last: Any = None
            while True:  # key order from where the last batch ended: each row read once
                page = select(key).where(expired).order_by(key).limit(batch_rows)
                if last is not None:
                    page = page.where(key > last)
                with session_scope(engine) as session:
                    ids = list(session.scalars(page))
                    if not ids:
                        break
                    last = ids[-1]
                    values: dict[str, Any] = dict(place.erase)
                    statement = (
                        delete(table).where(key.in_(ids))
                        if place.on_purge == "delete"
                        else update(table).where(key.in_(ids)).values(**values)
                    )
                    session.execute(statement)
                total += len(ids)
        done.append(PurgeCount("ops", place.table, place.kind, place.on_purge, total))
    return done


def audit_purge(engine: Engine, counts: list[PurgeCount], today: date) -> None:
    """One audit event for a purge: rows per kind and per table, both databases."""
    kinds: dict[str, int] = {}
    for c in counts:
        kinds[c.kind] = kinds.get(c.kind, 0) + c.rows
    with session_scope(engine) as session:
        audit(
            session,
            None,
            AuditAction.PURGE,
            "retention",
            today.isoformat(),
            {
                "kinds": kinds,
                "tables": {f"{c.store}.{c.table}": c.rows for c in counts if c.rows},
            },
        )
