"""A write is acknowledged only once it is committed: a commit that fails answers 503, not
2xx/303, on an API route and on a page form route (ops.deps.get_db commits before the
response is sent), and the write is not there."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from api_helpers import PASSWORD
from web.page_helpers import csrf_token, post_login
from web.workbench_fixtures import world_fixture  # noqa: F401
from weiwan.core.db import session_scope
from weiwan.ops.org.sessions import CSRF_HEADER
from weiwan.ops.tasks.models import Task


class _Disk:
    """Makes every commit on the engine fail while ``full`` is set, as a full disk, a lost
    server or a deferred constraint would: the transaction is rolled back and COMMIT raises."""

    def __init__(self) -> None:
        self.full = False
        self.refused = 0

    def commit(self, _conn: Connection) -> None:
        if self.full:
            self.refused += 1
            # as a server whose COMMIT fails: the transaction is rolled back, then the error
            _conn.connection.rollback()
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))


@pytest.fixture
def disk(engine: Engine) -> Iterator[_Disk]:
    """A listener on the engine's commit event (the app's sessions use this engine)."""
    state = _Disk()
    event.listen(engine, "commit", state.commit)
    try:
        yield state
    finally:
        event.remove(engine, "commit", state.commit)


def _assignee(engine: Engine, task_id: int) -> int | None:
    with session_scope(engine) as session:
        task = session.get(Task, task_id)
        assert task is not None
        return task.assignee_id


def test_api_write_whose_commit_fails_answers_503(
    app: FastAPI, engine: Engine, world: dict[str, Any], disk: _Disk
) -> None:
    client = TestClient(app, raise_server_exceptions=False)
    login = client.post("/api/v1/auth/login", json={"username": "agent", "password": PASSWORD})
    assert login.status_code == 200, login.text
    client.headers[CSRF_HEADER] = login.json()["csrf_token"]
    task_id = world["tasks"][("S00001", "store")]
    disk.full = True
    answer = client.post(f"/api/v1/tasks/{task_id}/claim")
    assert disk.refused >= 1
    assert answer.status_code == 503, (answer.status_code, answer.text)
    disk.full = False
    assert _assignee(engine, task_id) is None  # not written, and not acknowledged either
    again = client.post(f"/api/v1/tasks/{task_id}/claim")
    assert again.status_code == 200, again.text
    assert _assignee(engine, task_id) is not None


def test_page_form_whose_commit_fails_answers_503(
    app: FastAPI, engine: Engine, world: dict[str, Any], disk: _Disk
) -> None:
    client = TestClient(app, follow_redirects=False, raise_server_exceptions=False)
    assert post_login(client, "agent").is_redirect
    token = csrf_token(client.get("/account").text)
    task_id = world["tasks"][("S00001", "store")]
    disk.full = True
    answer = client.post(f"/customers/S00001/tasks/{task_id}/claim", data={"csrf_token": token})
    assert disk.refused >= 1
    assert answer.status_code == 503, (answer.status_code, answer.text[:300])
    disk.full = False
    assert _assignee(engine, task_id) is None
