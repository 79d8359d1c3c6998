"""Shared fixtures: a real PostgreSQL 15 server in a temp dir, and temp warehouses.

PostgreSQL refuses to run as root, so when the tests run as root the server runs as an
unprivileged user (``nobody``) on a directory that user owns.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from weiwan.analytics.warehouse import Warehouse
from weiwan.core.db import make_engine
from weiwan.ops.migrate import upgrade

pytest_plugins = ["spark_fixtures", "redis_fixtures"]

PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin")
TESTS = Path(__file__).resolve().parent
#: directories whose tests share one expensive session fixture (the served demo): one group
SHARED_SESSION_DIRS = frozenset({"browser"})


#: the groups that take longest (a set-up of minutes, or many slow tests; measured 2026-12-06),
#: longest first: they start first, so that no long group starts last on one worker while the
#: other idles. `make test` passes `--no-loadscope-reorder` to keep this order (xdist's own
#: puts the groups with the most tests first, which left the few-but-slow ones to the end).
SLOW_GROUPS = (
    "browser",
    "analytics/test_spark_parity.py",
    "analytics/test_churn_quality.py",
    "analytics/test_model_cli.py",
    "deploy/test_wheel_install.py",
    "demo/test_loop.py",
    "ops/cross/test_api_fuzz.py",
    "demo/test_strategy_check.py",
    "pipeline/test_decisions.py",
    "demo/test_demo.py",
    "ops/contacts/test_dialer_import.py",
    "ops/cross/test_access_matrix.py",
)


def group_of(item: pytest.Item) -> str:
    """The xdist group of ``item``: its module, or its directory for the shared ones."""
    relative = item.path.relative_to(TESTS)
    return relative.parts[0] if relative.parts[0] in SHARED_SESSION_DIRS else str(relative)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Group the tests for ``pytest -n N --dist loadgroup`` (``make test``): a module runs whole
    on one worker (its module fixtures are built once), and the browser tests all on one
    worker (the demo site is built once); the slow groups first (:data:`SLOW_GROUPS`)."""
    rank = {name: i for i, name in enumerate(SLOW_GROUPS)}
    for item in items:
        item.add_marker(pytest.mark.xdist_group(group_of(item)))
    items.sort(key=lambda item: rank.get(group_of(item), len(SLOW_GROUPS)))


PG_USER = "nobody"


def _pg_bin(name: str) -> str:
    for directory in PG_BIN_DIRS:
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"PostgreSQL server binary {name!r} not found (install postgresql-15)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *args] if os.geteuid() == 0 else args


def _in_memory_dir() -> str | None:
    """/dev/shm when it is a writable memory file system with room (a test database's
    ``CREATE DATABASE … TEMPLATE`` took 0.5–1 s on this machine's disk, 0.04 s there), else
    None (the system's temp directory)."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 2**31:
        return shm
    return None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL of a throw-away PostgreSQL server on 127.0.0.1, for the whole session."""
    root = Path(tempfile.mkdtemp(prefix="weiwan-pg-", dir=_in_memory_dir()))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, user=PG_USER)
    port = _free_port()
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    subprocess.run(
        _as_server_user(
            [
                _pg_bin("initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "weiwan",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
        env=env,
    )
    # in memory the WAL would hold up to max_wal_size (1 GB) of RAM per server
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_wal_size=256MB"
    )
    subprocess.run(
        _as_server_user(
            [
                _pg_bin("pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(root / "log"),
                "-w",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
        env=env,
    )
    try:
        yield f"postgresql+psycopg://weiwan@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_server_user([_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            check=False,
            capture_output=True,
            env=env,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    """An empty DuckDB warehouse in a temp dir."""
    wh = Warehouse(tmp_path / "warehouse.duckdb", threads=2)
    try:
        yield wh
    finally:
        wh.close()


# --- the operational database migrated once per session (copied by ops_fixtures.engine)
PG_TEMPLATE = "ops_migrated_template"


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session; each test's database is a copy."""
    path = tmp_path_factory.mktemp("ops-template") / "ops.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return path


@pytest.fixture(scope="session")
def _migrated_postgres(postgres_url: str) -> str:
    """A PostgreSQL database migrated to head once per session, the template of each test's."""
    admin = make_engine(postgres_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_TEMPLATE}"'))
        conn.execute(text(f'CREATE DATABASE "{PG_TEMPLATE}"'))
    admin.dispose()
    engine = make_engine(postgres_url.rsplit("/", 1)[0] + f"/{PG_TEMPLATE}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()  # CREATE DATABASE … TEMPLATE needs the template without connections
    return PG_TEMPLATE
