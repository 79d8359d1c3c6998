"""Personal data in the warehouse: one subscriber's rows per table, erasure, the suppression
list read by ingest, and the retention purge (DuckDB; the Spark engine refuses: not yet).

The erased subscribers reach the warehouse as (digest, pseudonym) pairs with the salt that
made the digests (``erased_subscribers``, ``privacy_salt``): written by ``weiwan privacy
erase`` and by the daily run's collect step, never with the erased id. A subscriber is found
by ``sha256(salt || subscriber_id)``; their ``subscribers`` rows are deleted, and in every
other table with a ``subscriber_id`` (raw deliveries and derived results) the id becomes the
pseudonym and the personal columns NULL, so the aggregates keep their counts. Ingest drops
the rows of erased subscribers from later deliveries (:func:`suppressed_clause`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from weiwan.analytics.warehouse import Warehouse, quote
from weiwan.core.errors import WeiwanError
from weiwan.core.personal_data import WAREHOUSE_PII_COLUMNS, WAREHOUSE_PLACES, digest
from weiwan.core.retention import PurgeCount, RetentionRules

ERASED_TABLE = "erased_subscribers"
SALT_TABLE = "privacy_salt"
#: tables that never hold a subscriber's data, whatever their columns
_NOT_PLACES = frozenset({ERASED_TABLE, SALT_TABLE})
#: tables whose rows about an erased subscriber are deleted, not pseudonymised
_DELETED_ON_ERASURE = frozenset(p.table for p in WAREHOUSE_PLACES if p.on_erase == "delete")
#: ingest's rejected values: a line that could not be split names no subscriber column
QUARANTINE = "quarantine"
DDL = (
    f"""CREATE TABLE IF NOT EXISTS {ERASED_TABLE} (
        digest VARCHAR PRIMARY KEY, pseudonym VARCHAR NOT NULL)""",
    f"CREATE TABLE IF NOT EXISTS {SALT_TABLE} (salt VARCHAR NOT NULL)",
)


class SparkNotSupportedError(WeiwanError):
    """Personal-data work on the Spark engine (not supported yet)."""

    def __init__(self) -> None:
        super().__init__(
            "the personal-data report, erasure and purge are not supported on Spark yet: "
            "nothing was changed (docs/privacy.md)"
        )


def require_duckdb(store: object) -> Warehouse:
    """``store`` as the DuckDB warehouse, else :class:`SparkNotSupportedError`."""
    if not isinstance(store, Warehouse):
        raise SparkNotSupportedError()
    return store


def ensure_tables(wh: Warehouse) -> None:
    """Create the suppression list and the salt table when missing."""
    for ddl in DDL:
        wh.execute(ddl)


def subscriber_tables(wh: Warehouse) -> list[str]:
    """Every base table with a ``subscriber_id`` column (contract and derived), sorted."""
    rows = wh.execute(
        "SELECT c.table_name FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_schema, table_name) "
        "WHERE c.column_name = 'subscriber_id' AND t.table_type = 'BASE TABLE' "
        "AND t.table_schema = 'main' ORDER BY 1"
    )
    return [str(name) for (name,) in rows if str(name) not in _NOT_PLACES]


def _columns(wh: Warehouse, table: str) -> set[str]:
    return {str(r[0]) for r in wh.execute(f"DESCRIBE {quote(table)}")}


@dataclass(frozen=True)
class TableRows:
    """One warehouse table's rows about the subscriber."""

    table: str
    rows: int
    registered: bool


def subscriber_rows(wh: Warehouse, subscriber_id: str) -> list[TableRows]:
    """How many rows each warehouse table holds about ``subscriber_id``."""
    registered = {p.table for p in WAREHOUSE_PLACES}
    found = []
    for table in subscriber_tables(wh):
        count = wh.execute(
            f"SELECT count(*) FROM {quote(table)} WHERE subscriber_id = ?", [subscriber_id]
        )[0][0]
        found.append(TableRows(table, int(count), table in registered))
    return found


def held_subscribers(wh: Warehouse, subscriber_ids: Sequence[str]) -> set[str]:
    """Which of ``subscriber_ids`` any warehouse table holds rows of: one query per table for
    the whole batch (a batch of erasures asks this of thousands of ids at once)."""
    wanted = sorted(set(subscriber_ids))
    if not wanted:
        return set()
    wh.execute("CREATE OR REPLACE TEMP TABLE _asked_ids (subscriber_id VARCHAR)")
    try:
        wh.con.con.executemany("INSERT INTO _asked_ids VALUES (?)", [[i] for i in wanted])
        held: set[str] = set()
        for table in subscriber_tables(wh):
            rows = wh.execute(
                f"SELECT DISTINCT a.subscriber_id FROM _asked_ids a WHERE EXISTS (SELECT 1 "
                f"FROM {quote(table)} t WHERE t.subscriber_id = a.subscriber_id)"
            )
            held.update(str(i) for (i,) in rows)
            if len(held) == len(wanted):
                break
        return held
    finally:
        wh.execute("DROP TABLE IF EXISTS _asked_ids")


def _salt(wh: Warehouse, salt: str) -> None:
    held = wh.execute(f"SELECT salt FROM {SALT_TABLE}")
    if held and held[0][0] != salt:
        raise WeiwanError(
            "the warehouse's pseudonym salt differs from the operational database's: "
            "was the warehouse restored from another installation?"
        )
    if not held:
        wh.execute(f"INSERT INTO {SALT_TABLE} VALUES (?)", [salt])


def apply_erasures(wh: Warehouse, salt: str, erasures: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Record ``erasures`` (digest, pseudonym) and erase the subscribers not erased before,
    in one transaction: rows changed per table (empty when nothing was new)."""
    ensure_tables(wh)
    counts: dict[str, int] = {}
    with wh.transaction():
        _salt(wh, salt)
        known = {str(d) for (d,) in wh.execute(f"SELECT digest FROM {ERASED_TABLE}")}
        new = [(d, p) for d, p in erasures if d not in known]
        if not new:
            return counts
        wh.execute("CREATE OR REPLACE TEMP TABLE _new_erasures (digest VARCHAR, pseudonym VARCHAR)")
        wh.con.con.executemany("INSERT INTO _new_erasures VALUES (?, ?)", [list(e) for e in new])
        # the ids of the new erasures, found among the subscribers ever delivered
        wh.execute(
            "CREATE OR REPLACE TEMP TABLE _erase_ids AS SELECT DISTINCT s.subscriber_id, "
            "e.pseudonym FROM subscribers s JOIN _new_erasures e "
            "ON sha256(? || s.subscriber_id) = e.digest",
            [salt],
        )
        for table in subscriber_tables(wh):
            columns = _columns(wh, table)
            if table in _DELETED_ON_ERASURE:
                sql = (
                    f"DELETE FROM {quote(table)} WHERE subscriber_id IN "
                    "(SELECT subscriber_id FROM _erase_ids)"
                )
            else:
                blanks = [f"{quote(c)} = NULL" for c in WAREHOUSE_PII_COLUMNS if c in columns]
                sets = ", ".join(["subscriber_id = m.pseudonym", *blanks])
                sql = (
                    f"UPDATE {quote(table)} SET {sets} FROM _erase_ids m "
                    f"WHERE {quote(table)}.subscriber_id = m.subscriber_id"
                )
            changed = int(wh.execute(sql)[0][0])
            if table == QUARANTINE:
                changed += _erase_unsplit_lines(wh)
            if changed:
                counts[table] = changed
        wh.execute(f"INSERT INTO {ERASED_TABLE} SELECT digest, pseudonym FROM _new_erasures")
        wh.execute("DROP TABLE _erase_ids")
        wh.execute("DROP TABLE _new_erasures")
    return counts


def _erase_unsplit_lines(wh: Warehouse) -> int:
    """Delete the quarantined lines that could not be split into columns (no subscriber named)
    whose text holds an id being erased; a longer id that starts with it goes too (a rejected
    line is a diagnosis, not data the product uses)."""
    deleted = wh.execute(
        f"DELETE FROM {QUARANTINE} WHERE subscriber_id IS NULL AND EXISTS "
        f"(SELECT 1 FROM _erase_ids m WHERE contains({QUARANTINE}.value, m.subscriber_id))"
    )
    return int(deleted[0][0])


def suppressed_clause(wh: Warehouse) -> str | None:
    """The SQL condition (over a ``subscriber_id`` column) that keeps the rows of subscribers
    not erased, for ingest; ``None`` when nobody was erased."""
    if not wh.has_table(ERASED_TABLE) or not wh.execute(f"SELECT 1 FROM {ERASED_TABLE} LIMIT 1"):
        return None
    return (
        f"sha256((SELECT salt FROM {SALT_TABLE} LIMIT 1) || subscriber_id) "
        f"NOT IN (SELECT digest FROM {ERASED_TABLE})"
    )


def is_erased(wh: Warehouse, salt: str, subscriber_id: str) -> bool:
    """Whether ``subscriber_id`` is on the warehouse's suppression list."""
    if not wh.has_table(ERASED_TABLE):
        return False
    found = wh.execute(
        f"SELECT 1 FROM {ERASED_TABLE} WHERE digest = ?", [digest(salt, subscriber_id)]
    )
    return bool(found)


def purge(
    wh: Warehouse, rules: RetentionRules, today: date, *, dry_run: bool = False
) -> list[PurgeCount]:
    """Delete the warehouse rows older than their kind's period (registered places with a
    time column), a month of rows per transaction; ``dry_run`` counts only."""
    done: list[PurgeCount] = []
    for place in WAREHOUSE_PLACES:
        cutoff = rules.cutoff(place.kind, today)
        if cutoff is None or place.time_column is None or not wh.has_table(place.table):
            continue
        column = quote(place.time_column)
        table = quote(place.table)
        total = 0
        if dry_run:
            total = int(
                wh.execute(f"SELECT count(*) FROM {table} WHERE {column} < ?", [cutoff])[0][0]
            )
        else:
            for start in _months_before(wh, table, column, cutoff):
                with wh.transaction():
                    total += int(
                        wh.execute(
                            f"DELETE FROM {table} WHERE {column} < ? AND {column} >= ?",
                            [cutoff, start],
                        )[0][0]
                    )
            # rows with a time before the first batch's start (none normally) and NULL-safe
            with wh.transaction():
                total += int(wh.execute(f"DELETE FROM {table} WHERE {column} < ?", [cutoff])[0][0])
        done.append(PurgeCount("warehouse", place.table, place.kind, "delete", total))
    return done


def _months_before(wh: Warehouse, table: str, column: str, cutoff: date) -> Iterable[date]:
    """The first days of the months with rows before ``cutoff``, newest first (one
    transaction per month keeps each delete short)."""
    rows = wh.execute(
        f"SELECT DISTINCT CAST(date_trunc('month', {column}) AS DATE) AS m FROM {table} "
        f"WHERE {column} < ? ORDER BY m DESC",
        [cutoff],
    )
    return [r[0] for r in rows]
