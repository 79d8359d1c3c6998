"""Alerts to the administrators: a failed `weiwan daily` run is mailed (to a real SMTP server,
aiosmtpd) and texted (the outbox gateway's alert file) once; a mail server that is down leaves
the run's exit code alone and is recorded; `weiwan daily-watch` tells once a day that the day
is not published by its due time, and not before it; the runs page lists the alerts."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from factories import delivery
from weiwan.cli import app
from weiwan.cli import daily as daily_module
from weiwan.core.db import make_engine, session_scope
from weiwan.core.settings import Settings, get_settings
from weiwan.ops.runs.models import RunAlert
from weiwan.web.app import create_app

SNAPSHOT = "2026-10-31"
PHONES = ("13800000001", "13800000002")


class Inbox:
    """An SMTP handler keeping what it receives."""

    def __init__(self) -> None:
        self.mails: list[Envelope] = []

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.mails.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A home with one complete delivery; alerts to two addresses and two phones."""
    monkeypatch.setenv("WEIWAN_HOME", str(tmp_path))
    for name in ("WEIWAN_DATABASE_URL", "WEIWAN_WAREHOUSE_PATH", "WEIWAN_LANDING_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WEIWAN_ALERT_EMAILS", "ops@example.cn, duty@example.cn")
    monkeypatch.setenv("WEIWAN_ALERT_PHONES", ",".join(PHONES))
    monkeypatch.setenv("WEIWAN_SMTP_HOST", "127.0.0.1")
    delivery(tmp_path / "landing" / SNAPSHOT)
    (tmp_path / "landing" / SNAPSHOT / "_READY").touch()
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _broken_ingest(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_day: object) -> tuple[int, dict[str, Any]]:
        raise RuntimeError("the landing disk is unreadable")

    monkeypatch.setitem(daily_module.RUNNERS, "ingest", broken)


def _alerts(home: Path) -> list[tuple[str, str, dict[str, list[str]]]]:
    engine = make_engine(f"sqlite:///{home / 'weiwan.db'}")
    try:
        with session_scope(engine) as session:
            rows = session.scalars(select(RunAlert).order_by(RunAlert.id))
            return [(a.key, a.kind, json.loads(a.delivery)) for a in rows]
    finally:
        engine.dispose()


def _sms_lines(home: Path) -> list[dict[str, str]]:
    path = home / "var" / "alert-sms.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_failed_run_is_mailed_and_texted_once(
    home: Path, smtp: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = smtp
    monkeypatch.setenv("WEIWAN_SMTP_PORT", str(port))
    get_settings.cache_clear()
    _broken_ingest(monkeypatch)
    result = CliRunner().invoke(app, ["daily"])
    assert result.exit_code == 1, result.output
    assert len(inbox.mails) == 1
    mail = inbox.mails[0]
    assert sorted(mail.rcpt_tos) == ["duty@example.cn", "ops@example.cn"]
    content = mail.content if isinstance(mail.content, bytes) else b""
    text = content.decode("utf-8", "replace")
    assert SNAPSHOT in text and "ingest" in text
    assert [line["to"] for line in _sms_lines(home)] == list(PHONES)
    assert all(SNAPSHOT in line["text"] for line in _sms_lines(home))
    ((key, kind, told),) = _alerts(home)
    assert kind == "failed" and key.startswith("failed:run:")
    assert told["errors"] == [] and len(told["sent"]) == 4
    # the next failed run is another run: told again; a succeeded one tells nobody
    assert CliRunner().invoke(app, ["daily"]).exit_code == 1
    assert len(inbox.mails) == 2 and len(_alerts(home)) == 2


def test_an_unreachable_mail_server_leaves_the_exit_code_and_is_recorded(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEIWAN_SMTP_PORT", str(_free_port()))  # nobody listens there
    get_settings.cache_clear()
    _broken_ingest(monkeypatch)
    result = CliRunner().invoke(app, ["daily"])
    assert result.exit_code == 1
    ((_, _, told),) = _alerts(home)
    assert any(e.startswith("mail: ") for e in told["errors"])
    assert told["sent"] == [f"sms:{p}" for p in PHONES]  # the SMS still went


def test_daily_watch_tells_once_a_day_when_the_day_is_late(
    home: Path, smtp: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = smtp
    monkeypatch.setenv("WEIWAN_SMTP_PORT", str(port))
    monkeypatch.setenv("WEIWAN_PUBLICATION_DUE", "23:59:59")
    get_settings.cache_clear()
    local = datetime.now().astimezone(get_settings_tz()).time()
    if local >= get_settings().publication_due:  # the last second of the day: nothing to test
        pytest.skip("run in the last second of the local day")
    first = CliRunner().invoke(app, ["daily-watch"])
    assert first.exit_code == 0 and inbox.mails == []  # not yet due
    monkeypatch.setenv("WEIWAN_PUBLICATION_DUE", "00:00")
    get_settings.cache_clear()
    late = CliRunner().invoke(app, ["daily-watch"])
    assert late.exit_code == 0, late.output
    assert len(inbox.mails) == 1
    assert b"late" in (inbox.mails[0].content or b"")
    again = CliRunner().invoke(app, ["daily-watch"])
    assert again.exit_code == 0 and len(inbox.mails) == 1
    ((key, kind, told),) = _alerts(home)
    assert kind == "late" and key.startswith("late:") and len(told["sent"]) == 4


def test_daily_watch_tells_once_a_day_that_the_database_is_unreachable(
    home: Path, smtp: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = smtp
    monkeypatch.setenv("WEIWAN_SMTP_PORT", str(port))
    monkeypatch.setenv("WEIWAN_PUBLICATION_DUE", "00:00")
    nobody = f"postgresql+psycopg://weiwan:x@127.0.0.1:{_free_port()}/weiwan"
    monkeypatch.setenv("WEIWAN_DATABASE_URL", nobody)
    get_settings.cache_clear()
    for _ in range(2):
        result = CliRunner().invoke(app, ["daily-watch"])
        assert result.exit_code == 0, result.output
    assert len(inbox.mails) == 1
    assert b"unreachable" in (inbox.mails[0].content or b"")


def get_settings_tz() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(get_settings().timezone)


def test_daily_watch_without_anyone_to_tell_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEIWAN_HOME", str(tmp_path))
    for name in ("WEIWAN_ALERT_EMAILS", "WEIWAN_ALERT_PHONES", "WEIWAN_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["daily-watch"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "nobody to tell" in result.output


def test_the_runs_page_lists_the_alerts(
    home: Path, engine: Engine, people: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEIWAN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("WEIWAN_SMTP_PORT", str(_free_port()))
    get_settings.cache_clear()
    _broken_ingest(monkeypatch)
    assert CliRunner().invoke(app, ["daily"]).exit_code == 1
    from web.page_helpers import page_login

    site = create_app(Settings(home=home, secret_key="x"), engine)
    english = page_login(site, "admin", language="en").get("/admin/runs").text
    assert "Alerts to the administrators" in english
    assert "Run failed" in english and "sms:13800000001" in english
    page = page_login(site, "director").get("/admin/runs").text
    assert "给管理员的告警" in page and "运行失败" in page
    assert page_login(site, "agent").get("/admin/runs").status_code == 403
