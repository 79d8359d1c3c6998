"""The dialer's result import: off the event loop, body cap while reading, row limit, batches
that commit as they go and a re-import that records nothing twice."""

from __future__ import annotations

import csv
import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from api_helpers import PASSWORD, login
from customer_fixtures import publish_customers
from weiwan.core.db import session_scope
from weiwan.core.settings import Settings
from weiwan.ops.contacts.models import Contact
from weiwan.ops.contacts.service import record_call
from weiwan.ops.org.sessions import CSRF_HEADER
from weiwan.ops.tasks.models import Task
from weiwan.ops.tasks.service import TaskSpec, create_tasks
from weiwan.web.app import create_app

RESULTS = "/api/v1/outbound/results"


def _outbound_tasks(engine: Engine, branch_id: int, count: int) -> list[int]:
    """``count`` open outbound-call tasks, one per published customer."""
    ids = publish_customers(engine, branch_id, count)
    with session_scope(engine) as session:
        create_tasks(
            session,
            (
                TaskSpec(subscriber_id=sid, source="manual", origin="list", channel="outbound_call")
                for sid in ids
            ),
        )
        return list(session.scalars(select(Task.id).order_by(Task.id)))


def _results(task_ids: list[int], outcome: str = "not_reached") -> bytes:
    """A result file: one call per task, at distinct minutes."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["task_id", "called_at", "outcome"])
    for n, task_id in enumerate(task_ids):
        writer.writerow([task_id, f"2026-11-24 {8 + n // 60 % 12:02d}:{n % 60:02d}", outcome])
    return buffer.getvalue().encode("utf-8")


def _contacts(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(Contact)) or 0)


def _app(engine: Engine, tmp_path: Path, **settings: Any) -> FastAPI:
    return create_app(Settings(home=tmp_path, secret_key="test-secret", **settings), engine)


# --- off the event loop, against a real server ---------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _served(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn in a background thread on a free port; its base URL."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
def test_a_10000_row_import_leaves_the_server_answering(
    engine: Engine, branches: dict[str, int], people: dict[str, int], tmp_path: Path
) -> None:
    tasks = _outbound_tasks(engine, branches["city"], 10_000)
    content = _results(tasks)
    with _served(_app(engine, tmp_path)) as url, httpx.Client(base_url=url, timeout=600) as head:
        answer = head.post("/api/v1/auth/login", json={"username": "head", "password": PASSWORD})
        head.headers[CSRF_HEADER] = answer.json()["csrf_token"]
        outcome: dict[str, httpx.Response] = {}

        def upload() -> None:
            outcome["import"] = head.post(
                RESULTS, files={"file": ("results.csv", content, "text/csv")}
            )

        importer = threading.Thread(target=upload)
        waits: list[float] = []
        with httpx.Client(base_url=url, timeout=30) as visitor:
            assert visitor.get("/login").status_code == 200  # templates compiled
            started = time.monotonic()
            importer.start()
            time.sleep(0.5)  # the upload is read and the import has begun
            while importer.is_alive():
                before = time.monotonic()
                assert visitor.get("/login").status_code == 200
                waits.append(time.monotonic() - before)
                time.sleep(0.2)
        importer.join()
        took = time.monotonic() - started
    response = outcome["import"]
    assert response.status_code == 200, response.text
    assert response.json()["recorded"] == 10_000
    assert _contacts(engine) == 10_000
    assert len(waits) >= 3, f"the import took only {took:.1f} s: nothing was measured"
    assert max(waits) < 1.0, f"GET /login waited {max(waits):.2f} s during the import"


# --- the body cap ----------------------------------------------------------------------------

BOUNDARY = "weiwan-test-boundary"


def _multipart(name: str, content: bytes) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def _login(app: FastAPI) -> TestClient:
    return login(app, "head")


def test_a_body_above_the_cap_is_413_with_or_without_content_length(
    engine: Engine, branches: dict[str, int], people: dict[str, int], tmp_path: Path
) -> None:
    tasks = _outbound_tasks(engine, branches["city"], 300)
    app = _app(engine, tmp_path, upload_max_bytes=4096)
    head = _login(app)
    big = _results(tasks)  # ~9 KB
    assert len(big) > 4096

    declared = head.post(RESULTS, files={"file": ("results.csv", big, "text/csv")})
    assert declared.status_code == 413
    assert "4,096 bytes" in declared.json()["detail"]
    assert "upload_max_bytes" in declared.json()["detail"]

    read = {"bytes": 0}
    body = _multipart("results.csv", big)

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        for start in range(0, len(body), 1024):
            read["bytes"] += 1024
            yield body[start : start + 1024]

    chunked = head.post(
        RESULTS,
        content=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert chunked.status_code == 413, chunked.text
    assert "upload_max_bytes" in chunked.json()["detail"]
    assert _contacts(engine) == 0  # nothing stored

    small = head.post(RESULTS, files={"file": ("results.csv", _results(tasks[:20]), "text/csv")})
    assert small.status_code == 200 and small.json()["recorded"] == 20


def test_the_cap_holds_for_a_form_that_carries_its_csrf_token_as_a_field(
    engine: Engine, branches: dict[str, int], people: dict[str, int], tmp_path: Path
) -> None:
    tasks = _outbound_tasks(engine, branches["city"], 300)
    head = _login(_app(engine, tmp_path, upload_max_bytes=4096))
    token = head.headers.pop(CSRF_HEADER)  # as a browser form sends it: a field, no header
    body = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
    ).encode() + _multipart("results.csv", _results(tasks))

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 1024):
            yield body[start : start + 1024]

    response = head.post(
        RESULTS,
        content=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert response.status_code == 413, response.text
    assert _contacts(engine) == 0


def test_a_request_without_the_file_field_names_it(
    engine: Engine, branches: dict[str, int], people: dict[str, int], tmp_path: Path
) -> None:
    response = _login(_app(engine, tmp_path)).post(RESULTS, files={"upload": ("r.csv", b"x")})
    assert response.status_code == 422
    assert "'file'" in response.json()["detail"]


# --- the row limit, batches, idempotence -----------------------------------------------------


def test_the_row_limit_is_named_and_nothing_is_stored(
    engine: Engine, branches: dict[str, int], people: dict[str, int], tmp_path: Path
) -> None:
    tasks = _outbound_tasks(engine, branches["city"], 6)
    head = _login(_app(engine, tmp_path, import_max_rows=5))
    response = head.post(RESULTS, files={"file": ("results.csv", _results(tasks), "text/csv")})
    assert response.status_code == 422
    assert "results.csv: row 7" in response.json()["detail"]
    assert "more than 5 rows (setting import_max_rows)" in response.json()["detail"]
    assert _contacts(engine) == 0
    fits = head.post(RESULTS, files={"file": ("results.csv", _results(tasks[:5]), "text/csv")})
    assert fits.status_code == 200 and fits.json()["recorded"] == 5


def test_batches_commit_as_they_go_and_a_re_import_finishes_an_interrupted_one(
    engine: Engine,
    branches: dict[str, int],
    people: dict[str, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tasks = _outbound_tasks(engine, branches["city"], 7)
    content = _results(tasks)
    app = _app(engine, tmp_path, import_batch_rows=3)
    head = login(app, "head")
    head_raw = TestClient(app, raise_server_exceptions=False)
    head_raw.cookies = head.cookies
    head_raw.headers[CSRF_HEADER] = head.headers[CSRF_HEADER]
    real = record_call
    calls = {"n": 0}

    def failing_on_the_fifth(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("the server went away")
        return real(*args, **kwargs)

    monkeypatch.setattr("weiwan.ops.contacts.dialer.record_call", failing_on_the_fifth)
    broken = head_raw.post(RESULTS, files={"file": ("results.csv", content, "text/csv")})
    assert broken.status_code == 500
    stored = _contacts(engine)
    assert stored == 3  # the first batch is committed, the second rolled back as one
    monkeypatch.setattr("weiwan.ops.contacts.dialer.record_call", real)

    again = head.post(RESULTS, files={"file": ("results.csv", content, "text/csv")})
    assert again.status_code == 200, again.text
    assert again.json() == {
        "rows": 7,
        "recorded": 7 - stored,
        "unchanged": stored,
        "over_rule": 0,
        "conflicts": [],
    }
    assert _contacts(engine) == 7
    third = head.post(RESULTS, files={"file": ("results.csv", content, "text/csv")})
    assert third.json()["recorded"] == 0 and third.json()["unchanged"] == 7
    assert _contacts(engine) == 7


def test_a_bad_task_number_is_reported_in_its_column(
    engine: Engine, branches: dict[str, int], people: dict[str, int], tmp_path: Path
) -> None:
    tasks = _outbound_tasks(engine, branches["city"], 2)
    content = _results(tasks) + b"99999999999999999999,2026-11-24 11:00,connected\n"
    response = _login(_app(engine, tmp_path)).post(
        RESULTS, files={"file": ("results.csv", content, "text/csv")}
    )
    assert response.status_code == 422
    assert [(e["row"], e["column"]) for e in response.json()["errors"]] == [(4, "task_id")]
    assert _contacts(engine) == 0
