"""``weiwan backup`` and ``weiwan restore``: the operational database (pg_dump / SQLite's
backup), the DuckDB warehouse (EXPORT DATABASE), the model registry and the configuration in
effect, in one directory with a manifest."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from weiwan.cli.base import fail, ops_engine, out
from weiwan.core.errors import ConfigError, WeiwanError
from weiwan.core.settings import get_settings

if TYPE_CHECKING:
    from weiwan.ops.privacy.ledger import Ledger

MANIFEST = "backup.json"


def backup(
    target: Annotated[Path, typer.Option("--out", help="A new directory for the backup.")],
) -> None:
    """Back everything up into a new directory: the operational database, the warehouse (the
    DuckDB file; with the Spark engine its tables are the cluster's to back up), the model
    registry and the configuration in effect. Audited as an export."""
    from weiwan.analytics.warehouse_backup import export_warehouse
    from weiwan.core.db import make_engine, session_scope
    from weiwan.ops.backup import dump_database, kind_of
    from weiwan.ops.migrate import current
    from weiwan.ops.org.service import AuditAction, audit

    settings = get_settings()
    if target.exists() and any(target.iterdir()):
        raise fail(ConfigError(f"{target} is not empty: back up into a new directory"))
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(0o700)  # it holds personal data
    parts: dict[str, Any] = {}
    try:
        engine = make_engine(settings.database)
        try:
            revision = current(engine)
        finally:
            engine.dispose()
        parts["database"] = {"kind": kind_of(settings.database), "revision": revision}
        parts["database"]["file"] = dump_database(settings.database, target).name
        if settings.engine == "duckdb" and settings.warehouse_file.exists():
            export_warehouse(settings.warehouse_file, target / "warehouse")
            parts["warehouse"] = "warehouse"
        for name, source in (("models", settings.models_dir), ("config", settings.home / "config")):
            if source.exists():
                shutil.copytree(source, target / name)
                parts[name] = name
    except WeiwanError as exc:
        raise fail(exc) from exc
    manifest = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "weiwan": version("weiwan"),
        "parts": parts,
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    engine = make_engine(settings.database)
    try:
        with session_scope(engine) as session:
            audit(session, None, AuditAction.EXPORT, "backup", str(target.absolute())[:128], parts)
    finally:
        engine.dispose()
    out.print(f"backed up into {target}: {', '.join(parts)}")


def restore(
    source: Annotated[Path, typer.Option("--from", help="A directory `weiwan backup` wrote.")],
    erasures: Annotated[
        Path | None,
        typer.Option(
            "--erasures",
            help="The erasure ledger to re-apply (default: WEIWAN_ERASURE_LEDGER, else "
            "<home>/erasures.jsonl, when it exists).",
        ),
    ] = None,
) -> None:
    """Restore a backup into the places the settings name, which must be new: an empty
    operational database (WEIWAN_DATABASE_URL), no warehouse file, no model registry or
    configuration yet; then erase again every subscriber the erasure ledger names whom the
    backup still holds (it was made before their erasure). Then `weiwan serve` serves what
    was backed up."""
    from weiwan.analytics.warehouse_backup import import_warehouse
    from weiwan.ops.backup import restore_database
    from weiwan.ops.privacy.ledger import read_ledger

    settings = get_settings()
    manifest_file = source / MANIFEST
    if not manifest_file.exists():
        raise fail(ConfigError(f"{manifest_file} is missing: not a weiwan backup"))
    parts = json.loads(manifest_file.read_text(encoding="utf-8"))["parts"]
    ledger_file = erasures or settings.erasure_ledger_file
    if erasures is not None and not erasures.exists():
        raise fail(ConfigError(f"the erasure ledger {erasures} does not exist"))
    try:
        ledger = read_ledger(ledger_file) if ledger_file.exists() else None
        restore_database(source, settings.database)
        if "warehouse" in parts:
            import_warehouse(source / parts["warehouse"], settings.warehouse_file)
        for name, where in (("models", settings.models_dir), ("config", settings.home / "config")):
            if name in parts:
                if where.exists() and any(where.iterdir()):
                    raise ConfigError(f"{where} is not empty: restore into a new home")
                shutil.copytree(source / parts[name], where, dirs_exist_ok=True)
        again = _reapply_erasures(ledger, "warehouse" in parts) if ledger is not None else []
    except WeiwanError as exc:
        raise fail(exc) from exc
    out.print(f"restored {', '.join(parts)} from {source}")
    if ledger is not None:
        named = len(ledger.erasures)
        out.print(f"erasures re-applied from the ledger: {len(again)} of the {named} it names")


def _reapply_erasures(ledger: Ledger, with_warehouse: bool) -> list[tuple[str, str]]:
    """Re-apply the erasure ledger to the restored operational database and warehouse."""
    from weiwan.analytics.privacy import apply_erasures
    from weiwan.analytics.warehouse import Warehouse
    from weiwan.core.db import session_scope
    from weiwan.ops.privacy.service import reapply_erasures

    settings = get_settings()
    engine = ops_engine()  # the restored schema migrated to this version's, as serving does
    try:
        with session_scope(engine) as session:
            again = reapply_erasures(session, ledger)
    finally:
        engine.dispose()
    if with_warehouse and ledger.salt is not None and ledger.erasures:
        with Warehouse(settings.warehouse_file) as wh:  # it skips what it knows as erased
            apply_erasures(wh, ledger.salt, ledger.erasures)
    return again
