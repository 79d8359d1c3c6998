"""`weiwan db upgrade` migrates the operational database the settings name."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect
from typer.testing import CliRunner

from weiwan.cli import app
from weiwan.core.db import make_engine
from weiwan.core.settings import get_settings
from weiwan.ops.migrate import current, head


def test_db_upgrade_creates_then_reports_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    monkeypatch.setenv("WEIWAN_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        first = CliRunner().invoke(app, ["db", "upgrade"])
        again = CliRunner().invoke(app, ["db", "upgrade"])
    finally:
        get_settings.cache_clear()
    assert first.exit_code == 0, first.output
    assert f"empty -> {head()}" in first.stdout
    assert f"already at {head()}" in again.stdout
    engine = make_engine(url)
    try:
        assert current(engine) == head()
        assert {"users", "branches", "teams", "audit_events"} <= set(
            inspect(engine).get_table_names()
        )
    finally:
        engine.dispose()
