"""Backing up and restoring the DuckDB warehouse with DuckDB's own ``EXPORT DATABASE`` (the
schema and every table as Parquet) and ``IMPORT DATABASE`` into a new file."""

from __future__ import annotations

from pathlib import Path

import duckdb

from weiwan.core.errors import ConfigError


def export_warehouse(path: Path, target: Path) -> Path:
    """Export the warehouse file ``path`` into directory ``target`` (created)."""
    if not path.exists():
        raise ConfigError(f"the warehouse {path} does not exist")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:  # another process (the daily run) holds the file
        raise ConfigError(
            f"the warehouse {path} is in use by another process (a daily run?): back up once "
            f"it has finished ({exc})"
        ) from exc
    target.mkdir(parents=True, exist_ok=False)
    with con:
        con.execute(f"EXPORT DATABASE {_literal(target)} (FORMAT PARQUET)")
    return target


def import_warehouse(source: Path, path: Path) -> None:
    """A new warehouse file ``path`` from the export in ``source``."""
    if not (source / "schema.sql").exists():
        raise ConfigError(f"{source} holds no warehouse export (schema.sql is missing)")
    if path.exists():
        raise ConfigError(f"{path} exists: restore the warehouse into a new file")
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute(f"IMPORT DATABASE {_literal(source)}")


def _literal(path: Path) -> str:
    """``path`` as a SQL string literal: DuckDB takes no bound parameter in EXPORT / IMPORT
    DATABASE, so the administrator's path is quoted here (quotes doubled)."""
    return "'" + str(path.absolute()).replace("'", "''") + "'"
