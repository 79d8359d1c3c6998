"""`weiwan daily`: the newest complete delivery of the landing folder run to its end with a
history (`GET /api/v1/runs`); nothing to do once it has; a failed run resumed at its failed
step; a failure after publishing is "partly failed"; a second run while one holds the lock
does nothing. Exit codes 0, 1, 2, 3, 4."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from api_helpers import login
from factories import delivery
from weiwan.cli import app
from weiwan.cli import daily as daily_module
from weiwan.core.db import make_engine, session_scope
from weiwan.core.personal_data import digest, pseudonym_of
from weiwan.core.settings import Settings, get_settings
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.privacy.ledger import record_erasure
from weiwan.ops.privacy.models import Erasure
from weiwan.ops.runs.models import DailyRun, DailyRunStep
from weiwan.web.app import create_app

SNAPSHOT = "2026-10-31"
GONE = "U000001"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A home with one complete delivery and one still arriving (no marker)."""
    monkeypatch.setenv("WEIWAN_HOME", str(tmp_path))
    for name in ("WEIWAN_DATABASE_URL", "WEIWAN_WAREHOUSE_PATH", "WEIWAN_LANDING_DIR"):
        monkeypatch.delenv(name, raising=False)
    delivery(tmp_path / "landing" / SNAPSHOT)
    (tmp_path / "landing" / SNAPSHOT / "_READY").touch()
    delivery(tmp_path / "landing" / "2026-11-30")  # no marker: not complete
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _daily(*args: str) -> tuple[int, dict[str, Any] | None]:
    result = CliRunner().invoke(app, ["daily", "--json", *args])
    try:
        body = json.loads(result.stdout)
    except ValueError:
        body = None
    return result.exit_code, body


def _runs(home: Path) -> list[tuple[str, str | None, list[tuple[str, str]]]]:
    engine = make_engine(f"sqlite:///{home / 'weiwan.db'}")
    try:
        with session_scope(engine) as session:
            out = []
            for run in session.query(DailyRun).order_by(DailyRun.id):
                steps = session.query(DailyRunStep).filter_by(run_id=run.id)
                out.append(
                    (
                        run.status,
                        run.failed_step,
                        [(s.step, s.status) for s in steps.order_by(DailyRunStep.id)],
                    )
                )
            return out
    finally:
        engine.dispose()


def test_a_failed_run_resumes_at_its_step_and_then_there_is_nothing_to_do(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_day: object) -> tuple[int, dict[str, Any]]:
        raise RuntimeError("the operational database went away")

    monkeypatch.setitem(daily_module.RUNNERS, "publish", broken)
    code, body = _daily()
    assert code == 1 and body is not None and body["status"] == "failed"
    assert [s["status"] for s in body["steps"]] == ["done", "done", "failed"]
    monkeypatch.setitem(daily_module.RUNNERS, "publish", daily_module._publish)
    monkeypatch.setitem(daily_module.RUNNERS, "close_periods", broken)
    code, body = _daily()
    assert code == 3 and body is not None and body["status"] == "partly_failed"
    monkeypatch.setitem(daily_module.RUNNERS, "close_periods", daily_module._close_periods)
    code, body = _daily()
    assert code == 0 and body is not None and body["status"] == "succeeded"
    assert _daily()[0] == 2  # nothing to do: the newest complete delivery ran to its end
    first, second, third = _runs(home)
    assert first == (
        "failed",
        "publish",
        [("ingest", "done"), ("pipeline", "done"), ("publish", "failed")],
    )
    assert second[0:2] == ("partly_failed", "close_periods")
    assert second[2] == [
        ("ingest", "skipped"),
        ("pipeline", "skipped"),
        ("publish", "done"),
        ("hand_over", "done"),
        ("close_periods", "failed"),
    ]
    assert third == (
        "succeeded",
        None,
        [
            ("ingest", "skipped"),
            ("pipeline", "skipped"),
            ("publish", "skipped"),
            ("hand_over", "skipped"),
            ("close_periods", "done"),
        ],
    )


@pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
def test_a_run_records_its_steps_and_the_api_shows_them(
    home: Path,
    engine: Engine,
    people: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEIWAN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    # the erasure ledger names a subscriber the database does not know as erased (it was put
    # back from a copy made before the erasure): the day erases them again before its delivery
    record_erasure(
        home / "erasures.jsonl", "salt-1", digest("salt-1", GONE), pseudonym_of("salt-1", GONE)
    )
    code, body = _daily()
    assert code == 0 and body is not None, body
    assert [s["step"] for s in body["steps"]] == list(daily_module.STEPS)
    assert body["steps"][0]["rows"] > 0  # ingest loaded the delivery
    assert any("erased again" in w for w in body["warnings"]), body["warnings"]
    with session_scope(engine) as session:
        assert session.get(CustomerView, GONE) is None  # never published
        (reason,) = session.scalars(select(Erasure.reason))
        assert reason.startswith("re-applied from the erasure ledger missing when the daily run")
        assert session.get(CustomerView, "U000002") is not None
    app = create_app(Settings(home=home, secret_key="x"), engine)
    runs = login(app, "admin").get("/api/v1/runs").json()
    assert runs[0]["status"] == "succeeded" and runs[0]["snapshot_date"] == SNAPSHOT
    assert [s["step"] for s in runs[0]["steps"]] == list(daily_module.STEPS)
    assert runs[0]["steps"][0]["detail"]["loaded"]["subscribers"] == 20
    assert runs[0]["steps"][0]["detail"]["erasures_reapplied"] == 1
    assert login(app, "agent").get("/api/v1/runs").status_code == 403
    from web.page_helpers import page_login

    page = page_login(app, "director").get("/admin/runs").text
    assert "每日运行记录" in page and "数据导入" in page and "成功" in page
    english = page_login(app, "admin", language="en").get("/admin/runs").text
    assert "Daily runs" in english and "Hand-over (tasks)" in english
    assert page_login(app, "agent").get("/admin/runs").status_code == 403


def test_a_second_run_while_one_holds_the_lock_does_nothing(home: Path) -> None:
    lock = home / "var" / "daily.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert _daily()[0] == 4
    assert not (home / "weiwan.db").exists() or _runs(home) == []
    assert os.path.exists(lock)
