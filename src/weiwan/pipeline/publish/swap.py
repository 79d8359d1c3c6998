"""PostgreSQL: a published table replaced whole by loading a bare twin and swapping it in.

Deleting every row of a large table, then copying the new rows into it with its indexes in
place, maintains each index row by row and leaves the deleted rows for VACUUM: 10 M rows of
the customer view took over five minutes that way. :func:`swap_in` instead loads the rows into
a twin with no index or key (``LIKE`` the table: columns, defaults, NOT NULL and CHECK
constraints), builds the table's keys and indexes on it in one pass each, then renames it into
place and drops the old table. Everything happens in the caller's transaction, so readers see
the old rows until the commit and a failed load leaves them untouched; readers wait only for
the renames at the end, not for the load, and the renames wait for open reads at most 5 s at
a time (:func:`_take_lock`): a long report query delays the swap, never the screen-pops. The
keys and indexes are those the database holds (read from its catalogue, so an index a
migration added is kept), with their names; the table's grants to other roles are granted again.

What is ours: PostgreSQL has no "replace a table's contents by a bulk-loaded copy" statement,
and the libraries we use (SQLAlchemy, Alembic) leave it to the application.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sqlalchemy as sa

_TWIN = "__next"
#: how long one attempt waits for the readers of the table before the swap, and how many
LOCK_WAIT = "5s"
LOCK_ATTEMPTS = 12
_OLD = "__old"
#: pg_get_indexdef's form: CREATE [UNIQUE] INDEX name ON [ONLY] schema.table USING ...
_INDEX_DEF = re.compile(r"^(CREATE (?:UNIQUE )?INDEX )(\S+)( ON (?:ONLY )?)(\S+)( USING .*)$", re.S)

_CONSTRAINTS = sa.text(
    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE conrelid = CAST(:table AS regclass) AND contype IN ('p', 'u', 'f', 'x') "
    "ORDER BY contype = 'f', conname"
)
#: indexes that back no constraint of the table (those come with their constraint)
_INDEXES = sa.text(
    "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
    "JOIN pg_class i ON i.oid = x.indexrelid "
    "WHERE x.indrelid = CAST(:table AS regclass) AND NOT EXISTS ("
    "  SELECT 1 FROM pg_constraint c "
    "  WHERE c.conrelid = x.indrelid AND c.conindid = x.indexrelid) "
    "ORDER BY i.relname"
)
_GRANTS = sa.text(
    "SELECT grantee, privilege_type FROM information_schema.role_table_grants "
    "WHERE table_schema = current_schema() AND table_name = :table "
    "AND grantee <> (SELECT tableowner FROM pg_tables "
    "  WHERE schemaname = current_schema() AND tablename = :table) "
    "ORDER BY grantee, privilege_type"
)


def swap_in(conn: sa.Connection, table: sa.Table, load: Callable[[sa.Table], int]) -> int:
    """Replace every row of ``table`` by the rows ``load`` writes into the twin it is given
    (a ``Table`` of the same columns); returns what ``load`` returns (rows loaded)."""
    quote = conn.dialect.identifier_preparer.quote
    name = table.name
    twin_name, old_name = f"{name}{_TWIN}", f"{name}{_OLD}"
    constraints = [tuple(r) for r in conn.execute(_CONSTRAINTS, {"table": name})]
    indexes = [tuple(r) for r in conn.execute(_INDEXES, {"table": name})]
    grants = [tuple(r) for r in conn.execute(_GRANTS, {"table": name})]

    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(twin_name)}")
    conn.exec_driver_sql(
        f"CREATE TABLE {quote(twin_name)} (LIKE {quote(name)} INCLUDING DEFAULTS "
        "INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE)"
    )
    twin = sa.Table(twin_name, sa.MetaData(), *(sa.Column(c.name, c.type) for c in table.columns))
    loaded = load(twin)

    for constraint, definition in constraints:
        conn.exec_driver_sql(
            f"ALTER TABLE {quote(twin_name)} ADD CONSTRAINT {quote(constraint + _TWIN)} "
            f"{definition}"
        )
    for index, definition in indexes:
        conn.exec_driver_sql(_twin_index(definition, quote(index + _TWIN), quote(twin_name)))
    for grantee, privilege in grants:
        conn.exec_driver_sql(f"GRANT {privilege} ON {quote(twin_name)} TO {quote(grantee)}")
    conn.exec_driver_sql(f"ANALYZE {quote(twin_name)}")  # fresh statistics for the plans

    _take_lock(conn, quote(name))
    conn.exec_driver_sql(f"ALTER TABLE {quote(name)} RENAME TO {quote(old_name)}")
    conn.exec_driver_sql(f"ALTER TABLE {quote(twin_name)} RENAME TO {quote(name)}")
    conn.exec_driver_sql(f"DROP TABLE {quote(old_name)}")
    for constraint, _ in constraints:
        conn.exec_driver_sql(
            f"ALTER TABLE {quote(name)} RENAME CONSTRAINT {quote(constraint + _TWIN)} "
            f"TO {quote(constraint)}"
        )
    for index, _ in indexes:
        conn.exec_driver_sql(f"ALTER INDEX {quote(index + _TWIN)} RENAME TO {quote(index)}")
    return loaded


def _take_lock(conn: sa.Connection, table: str) -> None:
    """The exclusive lock the renames need, waited for at most LOCK_WAIT at a time so that
    readers queued behind a long read are not held up: on a timeout the attempt is undone
    (savepoint) and tried again, up to LOCK_ATTEMPTS times."""
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
    for attempt in range(1, LOCK_ATTEMPTS + 1):
        savepoint = conn.begin_nested()
        try:
            conn.exec_driver_sql(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        except sa.exc.OperationalError:
            savepoint.rollback()
            if attempt == LOCK_ATTEMPTS:
                raise
            continue
        savepoint.commit()
        break
    conn.exec_driver_sql("SET LOCAL lock_timeout = 0")


def _twin_index(definition: str, index: str, twin: str) -> str:
    """``definition`` (pg_get_indexdef) naming index ``index`` on table ``twin`` instead."""
    found = _INDEX_DEF.match(definition)
    if found is None:
        raise ValueError(f"unexpected index definition: {definition}")
    head, _, on, _, rest = found.groups()
    return f"{head}{index}{on}{twin}{rest}"
