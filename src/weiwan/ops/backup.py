"""Backing up and restoring the operational database with the database's own tools: PostgreSQL's
``pg_dump`` (custom format) and ``pg_restore``; SQLite's online backup API.

The PostgreSQL client tools must be the server's major version or newer; they are looked for
in the PostgreSQL 15/16 binary directories Debian installs, then on ``PATH``. A password in the
URL is handed to them in ``PGPASSWORD``, never on the command line.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from weiwan.core.errors import ConfigError, WeiwanError

PG_BIN_DIRS = ("/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin")
#: the dump's file name in a backup directory, by database kind
DUMP = {"postgresql": "ops.dump", "sqlite": "ops.sqlite"}


def kind_of(url: str) -> str:
    """``postgresql`` or ``sqlite`` (others are refused)."""
    backend = make_url(url).get_backend_name()
    if backend not in DUMP:
        raise ConfigError(f"backups support PostgreSQL and SQLite, not {backend}")
    return backend


def _tool(name: str) -> str:
    for directory in PG_BIN_DIRS:
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        raise ConfigError(f"{name} not found: install the PostgreSQL client (postgresql-client)")
    return found


def _pg(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection options and environment for the PostgreSQL tools."""
    parsed = make_url(url)
    args = ["--host", parsed.host or "localhost", "--port", str(parsed.port or 5432)]
    if parsed.username:
        args += ["--username", parsed.username]
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return args, env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise WeiwanError(f"{what} failed: {done.stderr.strip()[-2000:]}")


def dump_database(url: str, target: Path) -> Path:
    """Write the operational database of ``url`` into directory ``target``; the file."""
    kind = kind_of(url)
    out = target / DUMP[kind]
    if kind == "sqlite":
        source = make_url(url).database
        if not source or not Path(source).exists():
            raise ConfigError(f"the SQLite database {source!r} does not exist")
        with sqlite3.connect(source) as src, sqlite3.connect(out) as dst:
            src.backup(dst)  # a consistent copy while the app runs
        return out
    args, env = _pg(url)
    database = make_url(url).database or "postgres"
    command = [_tool("pg_dump"), *args, "--format=custom", "--no-owner", "--file", str(out)]
    _run([*command, database], env, "pg_dump")
    return out


def restore_database(source: Path, url: str) -> None:
    """Load the dump in directory ``source`` into the (empty) database of ``url``."""
    kind = kind_of(url)
    dump = source / DUMP[kind]
    if not dump.exists():
        raise ConfigError(f"{dump} is missing: the backup holds no {kind} database")
    if kind == "sqlite":
        target = make_url(url).database
        if not target:
            raise ConfigError("the SQLite URL names no file")
        if Path(target).exists() and Path(target).stat().st_size > 0:
            raise ConfigError(f"{target} exists: restore into a new database")
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(dump) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        return
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = conn.execute(
                sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            ).scalar_one()
    finally:
        engine.dispose()
    if tables:
        raise ConfigError(
            f"the database {make_url(url).database!r} is not empty: restore into a new one"
        )
    args, env = _pg(url)
    database = make_url(url).database or "postgres"
    command = [_tool("pg_restore"), *args, "--no-owner", "--exit-on-error", "--dbname", database]
    _run([*command, str(dump)], env, "pg_restore")
