"""Ingest (维挽库用户同步): validate an operator's delivery and load it into the warehouse.

A delivery is a directory of extract files for one snapshot date. Every file is read and checked
before anything is written; then all tables are replaced for that snapshot in one transaction.
Bad rows go to ``quarantine`` with file, line, column, value and reason; a file that cannot be
loaded at all (missing required column, unreadable, wrong encoding) stops the delivery and
leaves the warehouse as it was. A file already loaded for the same snapshot with the same bytes
and the same mapping entry for its table is skipped, so ingesting the same extract twice changes
nothing and changing one table's mapping reloads only that table. The result reports, per table
and column, each quarantine reason with its count and a first example (line and raw value).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from weiwan.analytics import contract as c
from weiwan.analytics.extract_files import LINE, ExtractFile, RawExtract, discover, read_extract
from weiwan.analytics.mapping import Mapping
from weiwan.analytics.privacy import suppressed_clause
from weiwan.analytics.validate import ColumnRules, check, error_columns, is_clean, parse
from weiwan.analytics.warehouse import SNAPSHOT, Warehouse, duckdb_type, quote
from weiwan.core.errors import ContractError
from weiwan.core.logging import get_logger

log = get_logger(__name__)

Progress = Callable[[str, int, int], None]

_EXTRA_TYPES = {
    "int64": c.ColumnType.INTEGER,
    "float64": c.ColumnType.DECIMAL,
    "boolean": c.ColumnType.BOOLEAN,
    "date": c.ColumnType.DATE,
    "timestamp": c.ColumnType.TIMESTAMP,
    "string": c.ColumnType.STRING,
}


@dataclass(frozen=True)
class QuarantineReason:
    """One reason cells of one column were quarantined: how often, and the first example."""

    column: str
    reason: str
    count: int
    line: int | None
    value: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "count": self.count,
            "example": {"line": self.line, "value": self.value},
        }


@dataclass
class TableResult:
    """What one table's file contributed."""

    table: str
    file: str
    rows: int
    loaded: int
    quarantined: int
    unchanged: bool = False
    ignored_columns: list[str] = field(default_factory=list)
    #: contract columns the mapping declares the operator does not deliver
    not_delivered: list[str] = field(default_factory=list)
    #: quarantine reasons per column, most frequent first
    reasons: list[QuarantineReason] = field(default_factory=list)

    @property
    def quarantined_share(self) -> float:
        """Quarantined rows ÷ rows read (0 for an empty file)."""
        return self.quarantined / self.rows if self.rows else 0.0


@dataclass
class IngestResult:
    """The outcome of one delivery."""

    snapshot: date
    tables: dict[str, TableResult]

    def over_share(self, limit: float) -> list[str]:
        """The tables of which more than ``limit`` (0–1) of the rows were quarantined."""
        return [name for name, r in self.tables.items() if r.quarantined_share > limit]

    def as_json(self) -> dict[str, Any]:
        """The machine-readable summary printed by ``weiwan ingest --json``."""
        return {
            "snapshot": self.snapshot.isoformat(),
            "tables": {
                name: {
                    "file": r.file,
                    "rows": r.rows,
                    "loaded": r.loaded,
                    "quarantined": r.quarantined,
                    "quarantined_share": round(r.quarantined_share, 4),
                    "unchanged": r.unchanged,
                    "ignored_columns": r.ignored_columns,
                    "not_delivered": r.not_delivered,
                    "quarantine": _by_column(r.reasons),
                }
                for name, r in self.tables.items()
            },
        }


def _by_column(reasons: list[QuarantineReason]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for reason in reasons:
        grouped.setdefault(reason.column, []).append(reason.as_json())
    return grouped


def quarantine_reasons(wh: Warehouse, snapshot: date, table: str) -> list[QuarantineReason]:
    """Each (column, reason) quarantined for ``table`` at ``snapshot``, with its count and the
    first line it happened on with that line's raw value."""
    rows = wh.execute(
        "SELECT column_name, reason, count(*), min(line), arg_min(value, line) FROM quarantine "
        "WHERE _snapshot = ? AND table_name = ? GROUP BY column_name, reason "
        "ORDER BY column_name, count(*) DESC, reason",
        [snapshot, table],
    )
    return [
        QuarantineReason(str(col), str(why), int(n), line, value)
        for col, why, n, line, value in rows
    ]


@dataclass
class _Staged:
    file: ExtractFile
    fingerprint: str
    rows: int
    loaded: int
    quarantined: int
    columns: list[str]
    extras: dict[str, str]
    checked_name: str
    quarantine_name: str
    errors: list[str]
    ignored_columns: list[str]


def _previous_load(
    wh: Warehouse, snapshot: date, ef: ExtractFile, fingerprint: str, mapping: Mapping
) -> TableResult | None:
    rows = wh.execute(
        "SELECT rows_read, loaded, quarantined FROM ingest_log WHERE _snapshot = ? AND "
        "table_name = ? AND fingerprint = ? AND mapping_fingerprint = ?",
        [snapshot, ef.table.name, fingerprint, mapping.table_fingerprint(ef.table.name)],
    )
    if not rows:
        return None
    read, loaded, quarantined = rows[0]
    return TableResult(
        ef.table.name,
        ef.path.name,
        read,
        loaded,
        quarantined,
        unchanged=True,
        not_delivered=list(mapping.for_table(ef.table.name).not_delivered),
    )


def _infer_extra_type(raw: ir.Table, name: str, null_values: tuple[str, ...] = ()) -> str:
    """Ibis type for an extra attribute column: the narrowest type every value parses as."""
    col = raw[name]
    kind = col.type()
    if kind.is_integer():
        return "int64"
    if kind.is_floating() or kind.is_decimal():
        return "float64"
    if kind.is_boolean():
        return "boolean"
    if kind.is_date():
        return "date"
    if kind.is_timestamp():
        return "timestamp"
    candidates = ("int64", "float64", "boolean", "date")
    text = col.cast("string").strip().nullif("")
    if null_values:
        text = ibis.ifelse(text.isin(null_values), ibis.null("string"), text)
    counts: dict[str, ir.Value] = {"n": text.count()}
    for candidate in candidates:
        probe = c.Column(name, _EXTRA_TYPES[candidate], name, name, required=False)
        counts[candidate] = parse(col, ColumnRules(probe, null_values=null_values))[0].count()
    found = raw.aggregate(**counts).execute().iloc[0]
    n = int(found["n"])
    return next((k for k in candidates if n and int(found[k]) == n), "string")


def _rules(raw: RawExtract, mapping: Mapping, extras: dict[str, str]) -> dict[str, ColumnRules]:
    table = raw.file.table.name
    entry = mapping.for_table(table)
    rules: dict[str, ColumnRules] = {}
    for col in raw.file.table.columns:
        number = entry.numbers.get(col.name)
        rules[col.name] = ColumnRules(
            col,
            entry.values.get(col.name),
            entry.formats.get(col.name),
            percent=bool(number and number.percent),
            thousands=number.thousands if number else None,
            null_values=mapping.null_values(table, col.name),
            blank=entry.blanks.get(col.name),
        )
    for name, kind in extras.items():
        column = c.Column(name, _EXTRA_TYPES[kind], name, name, required=False)
        rules[name] = ColumnRules(column, null_values=mapping.null_values(table, name))
    return rules


def _known_subscribers(wh: Warehouse, staged: list[_Staged]) -> ir.Table:
    parts: list[ir.Table] = []
    if wh.execute("SELECT 1 FROM subscribers LIMIT 1"):
        parts.append(wh.table("subscribers").select("subscriber_id"))
    for s in staged:
        if s.file.table.name == "subscribers":
            checked = wh.table(s.checked_name)
            parts.append(checked.filter(is_clean(checked)).select("subscriber_id"))
    if not parts:
        raise ContractError(
            "references subscribers, but no subscribers extract is in this delivery or loaded "
            "before"
        )
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def _quarantine_rows(
    wh: Warehouse, raw_table: ir.Table, checked: ir.Table, raw: RawExtract, name: str
) -> None:
    bad = checked.filter(~is_clean(checked))
    bad_raw = raw_table.filter(raw_table[LINE].isin(bad[LINE]))
    wh.con.create_table(f"{name}_raw", bad_raw, temp=True, overwrite=True)
    bad_raw = wh.table(f"{name}_raw")
    key = raw.file.table.key
    owner = (
        bad_raw["subscriber_id"].cast("string")
        if "subscriber_id" in bad_raw.columns
        else ibis.null("string")
    )
    parts: list[ir.Table] = []
    for err in error_columns(checked):
        column = err.removeprefix("__e__")
        if column == "_key":
            column_label, value = (
                ",".join(key),
                ibis.literal("|").join([bad_raw[k].cast("string") for k in key]),
            )
        elif column == "_ref":
            column_label, value = "subscriber_id", bad_raw["subscriber_id"].cast("string")
        else:
            column_label, value = column, bad_raw[column].cast("string")
        hits = bad.filter(bad[err].notnull()).select(LINE, reason=bad[err])
        joined = hits.join(bad_raw.select(LINE, value=value, subscriber_id=owner), LINE)
        parts.append(
            joined.select(
                line=joined[LINE],
                column_name=ibis.literal(column_label),
                value=joined["value"],
                reason=joined["reason"],
                subscriber_id=joined["subscriber_id"],
            )
        )
    if raw.malformed:
        parts.append(
            ibis.memtable(
                pa.table(
                    {
                        "line": pa.array([m[0] for m in raw.malformed], pa.int64()),
                        "column_name": pa.array(["*"] * len(raw.malformed), pa.string()),
                        "value": pa.array([m[1][:500] for m in raw.malformed], pa.string()),
                        "reason": pa.array([m[2] for m in raw.malformed], pa.string()),
                        "subscriber_id": pa.array([None] * len(raw.malformed), pa.string()),
                    }
                )
            )
        )
    wh.con.create_table(name, ibis.union(*parts), temp=True, overwrite=True)


def _relation(wh: Warehouse, raw: RawExtract) -> ir.Table:
    """The raw rows as an Ibis table with contract names and ``_line``."""
    if raw.data is not None:
        return ibis.memtable(raw.data)
    scan = wh.con.read_parquet(raw.file.path, file_row_number=True)
    columns = {name: scan[source] for source, name in raw.renames.items()}
    return scan.select(**columns, **{LINE: scan["file_row_number"] + 1})


def _stage(
    wh: Warehouse, raw: RawExtract, fingerprint: str, mapping: Mapping, staged: list[_Staged]
) -> _Staged:
    table = raw.file.table
    raw_table = _relation(wh, raw)
    extras = {}
    known_extras = wh.extra_columns(table.name)
    for name in raw.extra_columns:
        extras[name] = known_extras.get(name) or _infer_extra_type(
            raw_table, name, mapping.null_values(table.name, name)
        )
    known = None if not table.references_subscribers else _known_subscribers(wh, staged)
    not_delivered = frozenset(mapping.for_table(table.name).not_delivered)
    checked_expr = check(raw_table, table, _rules(raw, mapping, extras), known, not_delivered)
    checked_name = f"_checked_{table.name}"
    wh.con.create_table(checked_name, checked_expr, temp=True, overwrite=True)
    checked = wh.table(checked_name)
    quarantine_name = f"_quarantine_{table.name}"
    _quarantine_rows(wh, raw_table, checked, raw, quarantine_name)
    rows = int(checked.count().execute())
    loaded = int(checked.filter(is_clean(checked)).count().execute())
    return _Staged(
        file=raw.file,
        fingerprint=fingerprint,
        rows=rows + len(raw.malformed),
        loaded=loaded,
        quarantined=rows - loaded + len(raw.malformed),
        columns=[*table.column_names, *extras],
        extras=extras,
        checked_name=checked_name,
        quarantine_name=quarantine_name,
        errors=error_columns(checked),
        ignored_columns=raw.ignored_columns,
    )


def _store(wh: Warehouse, s: _Staged, snapshot: date, mapping: Mapping) -> None:
    name = s.file.table.name
    known_extras = wh.extra_columns(name)
    for extra, kind in s.extras.items():
        if extra not in known_extras:
            wh.execute(f"ALTER TABLE {quote(name)} ADD COLUMN {quote(extra)} {duckdb_type(kind)}")
            wh.execute(
                "INSERT INTO extra_columns VALUES (?, ?, ?, ?)", [name, extra, kind, snapshot]
            )
    cols = ", ".join(quote(col) for col in s.columns)
    clean = " AND ".join(f"{quote(e)} IS NULL" for e in s.errors)
    suppressed = suppressed_clause(wh) if "subscriber_id" in s.columns else None
    if suppressed is not None:  # erased subscribers stay erased (docs/privacy.md)
        clean = f"{clean} AND {suppressed}" if clean else suppressed
    wh.execute(f"DELETE FROM {quote(name)} WHERE {SNAPSHOT} = ?", [snapshot])
    wh.execute(
        f"INSERT INTO {quote(name)} ({cols}, {SNAPSHOT}, _line) "
        f"SELECT {cols}, ?, {LINE} FROM {quote(s.checked_name)} WHERE {clean}",
        [snapshot],
    )
    wh.execute("DELETE FROM quarantine WHERE _snapshot = ? AND table_name = ?", [snapshot, name])
    kept = f"WHERE subscriber_id IS NULL OR {suppressed}" if suppressed is not None else ""
    wh.execute(
        "INSERT INTO quarantine (_snapshot, table_name, file, line, column_name, value, reason, "
        "subscriber_id) SELECT ?, ?, ?, line, column_name, value, reason, subscriber_id "
        f"FROM {quote(s.quarantine_name)} {kept} ORDER BY line, column_name",
        [snapshot, name, s.file.path.name],
    )
    wh.execute("DELETE FROM ingest_log WHERE _snapshot = ? AND table_name = ?", [snapshot, name])
    wh.execute(
        "INSERT INTO ingest_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            snapshot,
            name,
            s.file.path.name,
            s.fingerprint,
            mapping.table_fingerprint(name),
            s.rows,
            s.loaded,
            s.quarantined,
            datetime.now(),
        ],
    )


def ingest(
    directory: Path,
    *,
    snapshot: date,
    warehouse: Warehouse,
    mapping: Mapping | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    """Validate and load one delivery for ``snapshot``; all tables or none are written."""
    mapping = mapping or Mapping()
    files = discover(directory, mapping)
    report = progress or (lambda _label, _done, _total: None)
    total = len(files) + 1
    results: dict[str, TableResult] = {}
    staged: list[_Staged] = []
    try:
        for done, ef in enumerate(files):
            report(f"{ef.table.name}: read + validate", done, total)
            fingerprint = ef.fingerprint()
            previous = _previous_load(warehouse, snapshot, ef, fingerprint, mapping)
            if previous is not None:
                log.info("ingest.unchanged", snapshot=snapshot.isoformat(), table=ef.table.name)
                results[ef.table.name] = previous
                continue
            raw = read_extract(ef, mapping)
            try:
                staged.append(_stage(warehouse, raw, fingerprint, mapping, staged))
            except ContractError as exc:
                raise ContractError(str(exc), file=ef.path.name) from exc
            del raw
        report("load", len(files), total)
        with warehouse.transaction():
            for s in staged:
                _store(warehouse, s, snapshot, mapping)
        for s in staged:
            log.info(
                "ingest.loaded",
                snapshot=snapshot.isoformat(),
                table=s.file.table.name,
                file=s.file.path.name,
                loaded=s.loaded,
                quarantined=s.quarantined,
            )
            results[s.file.table.name] = TableResult(
                s.file.table.name,
                s.file.path.name,
                s.rows,
                s.loaded,
                s.quarantined,
                ignored_columns=s.ignored_columns,
                not_delivered=list(mapping.for_table(s.file.table.name).not_delivered),
            )
        for result in results.values():
            result.reasons = quarantine_reasons(warehouse, snapshot, result.table)
            if result.not_delivered:
                log.warning(
                    "ingest.not_delivered",
                    snapshot=snapshot.isoformat(),
                    table=result.table,
                    columns=result.not_delivered,
                )
        report("done", total, total)
    finally:
        for s in staged:
            for temp in (s.checked_name, s.quarantine_name, f"{s.quarantine_name}_raw"):
                warehouse.execute(f"DROP TABLE IF EXISTS {quote(temp)}")
    ordered = {t.name: results[t.name] for t in c.TABLES if t.name in results}
    return IngestResult(snapshot, ordered)
