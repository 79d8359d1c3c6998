"""`weiwan db upgrade` migrates the operational database the settings name."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect
from typer.testing import CliRunner

from weiwan.cli import app
from weiwan.core.db import make_engine
from weiwan.core.settings import Settings, get_settings
from weiwan.ops.migrate import current, head
from weiwan.web.app import create_app


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


def test_users_create_then_login_and_sms_dispatch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    monkeypatch.setenv("WEIWAN_DATABASE_URL", url)
    monkeypatch.setenv("WEIWAN_HOME", str(tmp_path))
    get_settings.cache_clear()
    try:
        args = ["users", "create", "--username", "root", "--role", "admin", "--branch", "HQ"]
        made = CliRunner().invoke(app, args, input="a-long-password-1\na-long-password-1\n")
        twice = CliRunner().invoke(app, args, input="a-long-password-1\na-long-password-1\n")
        bad = CliRunner().invoke(
            app,
            ["users", "create", "--username", "x", "--role", "king", "--branch", "HQ"],
            input="a-long-password-1\na-long-password-1\n",
        )
        dispatched = CliRunner().invoke(app, ["sms", "dispatch"])
    finally:
        get_settings.cache_clear()
    assert made.exit_code == 0, made.output
    assert "created admin root" in made.stdout
    assert "a-long-password-1" not in made.stdout
    assert twice.exit_code != 0 and "already taken" in twice.output
    assert bad.exit_code != 0 and "role" in bad.output
    assert dispatched.exit_code == 0 and "0 sent, 0 failed" in dispatched.stdout
    engine = make_engine(url)
    try:
        client = TestClient(create_app(Settings(home=tmp_path, secret_key="k"), engine))
        response = client.post(
            "/api/v1/auth/login", json={"username": "root", "password": "a-long-password-1"}
        )
        assert response.status_code == 200
        assert response.json()["permissions"]["may_configure"] is True
    finally:
        engine.dispose()
