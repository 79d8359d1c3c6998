"""`weiwan backup` / `weiwan restore` with the databases' own tools: a backup of a running
home restored into a new database and a new home serves the same customer card; the warehouse,
the model registry and the configuration come back too; a restore never overwrites."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from api_helpers import login
from customer_fixtures import publish_customers
from weiwan.analytics.warehouse_backup import export_warehouse
from weiwan.core.db import make_engine
from weiwan.core.errors import ConfigError
from weiwan.core.settings import Settings
from weiwan.web.app import create_app


def _weiwan(home: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WEIWAN_HOME": str(home), "WEIWAN_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "weiwan", *args], env=env, capture_output=True, text=True
    )


def _new_database(engine: Engine, tmp_path: Path) -> str:
    """The URL of a new, empty database beside ``engine``'s."""
    if engine.dialect.name == "sqlite":
        return f"sqlite:///{tmp_path / 'restored.db'}"
    url = engine.url.render_as_string(hide_password=False)
    name = f"restored_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.rsplit("/", 1)[0] + f"/{name}"


def _card(url: str, home: Path) -> dict[str, object]:
    engine = make_engine(url)
    try:
        app = create_app(Settings(home=home, secret_key="x", database_url=url), engine)
        card: dict[str, object] = login(app, "director").get("/api/v1/customers/S00002").json()
        return card
    finally:
        engine.dispose()


def test_a_backup_restored_into_a_new_home_serves_the_same_card(
    engine: Engine, people: dict[str, int], branches: dict[str, int], tmp_path: Path
) -> None:
    publish_customers(engine, branches["city"], 3)
    home = tmp_path / "home"
    (home / "models" / "v0001").mkdir(parents=True)
    (home / "models" / "v0001" / "meta.json").write_text('{"auc": 0.9}')
    (home / "config").mkdir()
    (home / "config" / "policies.yaml").write_text("policies: []\n")
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute("CREATE TABLE subscribers AS SELECT 'S00001' AS subscriber_id, 96.0 AS fee")
    url = engine.url.render_as_string(hide_password=False)
    saved = tmp_path / "backup"
    done = _weiwan(home, url, "backup", "--out", str(saved))
    assert done.returncode == 0, done.stderr
    parts = json.loads((saved / "backup.json").read_text())["parts"]
    assert set(parts) == {"database", "warehouse", "models", "config"}
    assert parts["database"]["revision"] is not None
    again = _weiwan(home, url, "backup", "--out", str(saved))  # never over a backup
    assert again.returncode == 1 and "not empty" in again.stdout + again.stderr

    restored_home, restored_url = tmp_path / "restored", _new_database(engine, tmp_path)
    try:
        _check_restore(saved, url, home, restored_url, restored_home)
    finally:
        _drop(engine, restored_url)
    with make_engine(url).connect() as conn:  # the backup was audited in the source
        audited = conn.execute(
            sa.text("SELECT count(*) FROM audit_events WHERE target_type = 'backup'")
        ).scalar_one()
    assert audited == 1


def _check_restore(
    saved: Path, url: str, home: Path, restored_url: str, restored_home: Path
) -> None:
    done = _weiwan(restored_home, restored_url, "restore", "--from", str(saved))
    assert done.returncode == 0, done.stderr
    assert _card(restored_url, restored_home) == _card(url, home)
    assert (restored_home / "models" / "v0001" / "meta.json").read_text() == '{"auc": 0.9}'
    assert (restored_home / "config" / "policies.yaml").exists()
    with duckdb.connect(str(restored_home / "warehouse.duckdb")) as con:
        assert con.execute("SELECT * FROM subscribers").fetchall() == [("S00001", 96.0)]
    twice = _weiwan(restored_home, restored_url, "restore", "--from", str(saved))
    assert twice.returncode == 1  # the database is no longer empty: nothing overwritten


def _drop(engine: Engine, restored_url: str) -> None:
    if engine.dialect.name != "postgresql":
        return
    server = engine.url.render_as_string(hide_password=False)
    admin = make_engine(server).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        name = restored_url.rsplit("/", 1)[1]
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_a_warehouse_in_use_by_another_process_is_a_clear_error(tmp_path: Path) -> None:
    """A backup while the daily run writes the warehouse says so and writes nothing."""
    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,sys; c=duckdb.connect({str(path)!r}); "
            "print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match="in use by another process"):
            export_warehouse(path, tmp_path / "backup")
        assert not (tmp_path / "backup").exists()
    finally:
        holder.communicate("")


def test_a_restored_backup_is_erased_again_of_whom_the_ledger_names(
    engine: Engine, people: dict[str, int], branches: dict[str, int], tmp_path: Path
) -> None:
    """A subscriber erased after the backup was made is back in the backup: the restore
    re-applies the erasure ledger (kept apart from the backups) to the database and the
    warehouse, so the card is gone again and the warehouse drops the subscriber."""
    publish_customers(engine, branches["city"], 3)
    home = tmp_path / "home"
    home.mkdir()
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute(
            "CREATE TABLE subscribers AS SELECT * FROM (VALUES ('S00001', 96.0), "
            "('S00002', 58.0)) AS t(subscriber_id, fee)"
        )
    url = engine.url.render_as_string(hide_password=False)
    saved = tmp_path / "backup"
    assert _weiwan(home, url, "backup", "--out", str(saved)).returncode == 0
    erased = _weiwan(home, url, "privacy", "erase", "S00002", "--reason", "PIPL-REQ-9")
    assert erased.returncode == 0, erased.stdout + erased.stderr
    kept = tmp_path / "vault" / "erasures.jsonl"  # the operator's copy, apart from the backups
    kept.parent.mkdir()
    kept.write_bytes((home / "erasures.jsonl").read_bytes())

    restored_home, restored_url = tmp_path / "restored", _new_database(engine, tmp_path)
    try:
        done = _weiwan(
            restored_home, restored_url, "restore", "--from", str(saved), "--erasures", str(kept)
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "erasures re-applied from the ledger: 1 of the 1 it names" in done.stdout
        app = create_app(Settings(home=restored_home, secret_key="x", database_url=restored_url))
        director = login(app, "director")
        assert director.get("/api/v1/customers/S00002").status_code == 404
        assert director.get("/api/v1/customers/S00001").status_code == 200
        with duckdb.connect(str(restored_home / "warehouse.duckdb")) as con:
            ids = con.execute("SELECT subscriber_id FROM subscribers").fetchall()
            recorded = con.execute("SELECT count(*) FROM erased_subscribers").fetchall()
        assert ids == [("S00001",)] and recorded == [(1,)]  # the subscriber's row is deleted
    finally:
        _drop(engine, restored_url)
