"""/metrics: Prometheus text with each request counted and timed under its route's template
(never the concrete path), today's work from the database, and nothing for an address outside
WEIWAN_METRICS_ALLOWED (404)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from customer_fixtures import customer
from weiwan.core.db import session_scope
from weiwan.core.settings import Settings
from weiwan.ops.runs.models import DailyRun, DailyRunStep
from weiwan.ops.tasks.service import TaskSpec, create_tasks
from weiwan.web.app import create_app
from weiwan.web.metrics import allowed


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_requests_by_route_template_and_todays_work(
    engine: Engine, branches: dict[str, int], tmp_path: Path
) -> None:
    with session_scope(engine) as session:
        session.add(customer("S00001", branches["city"]))
        session.flush()
        create_tasks(
            session,
            [
                TaskSpec(
                    subscriber_id="S00001", source="alert", origin="t:1", channel="outbound_call"
                )
            ],
        )
        run = DailyRun(snapshot_date=date(2026, 10, 31), delivery="landing/2026-10-31", host="h")
        session.add(run)
        session.flush()
        session.add(
            DailyRunStep(run_id=run.id, step="pipeline", status="done", seconds=12.5, rows=106)
        )
        run.status, run.finished_at = "succeeded", datetime.now(UTC)
    app = create_app(Settings(home=tmp_path, secret_key="x"), engine)
    local = TestClient(app, client=("127.0.0.1", 50000))
    for task_id in (11, 12, 13):
        local.get(f"/api/v1/tasks/{task_id}")  # 401: not logged in
    local.get("/healthz")
    answer = local.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    samples = _samples(answer.text)
    by_template = (("method", "GET"), ("route", "/api/v1/tasks/{task_id}"), ("status", "401"))
    assert samples[("weiwan_http_requests_total", by_template)] >= 3
    assert not any("/api/v1/tasks/11" in str(key) for key in samples)  # never the path
    health = (("method", "GET"), ("route", "/healthz"), ("status", "200"))
    assert samples[("weiwan_http_requests_total", health)] >= 1
    timed = (("le", "+Inf"), ("method", "GET"), ("route", "/healthz"))
    assert samples[("weiwan_http_request_duration_seconds_bucket", timed)] >= 1
    assert samples[("weiwan_tasks_created_today", (("channel", "outbound_call"),))] == 1
    assert samples[("weiwan_events_backlog", ())] == 0
    done = (("status", "done"), ("step", "pipeline"))
    assert samples[("weiwan_daily_run_step_seconds", done)] == 12.5
    assert samples[("weiwan_daily_run_step_rows", done)] == 106
    assert samples[("weiwan_daily_run_succeeded", (("status", "succeeded"),))] == 1


def test_metrics_are_not_found_from_other_addresses(engine: Engine, tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path, secret_key="x"), engine)
    assert TestClient(app, client=("10.1.2.3", 50000)).get("/metrics").status_code == 404
    opened = create_app(
        Settings(home=tmp_path, secret_key="x", metrics_allowed="10.0.0.0/8"), engine
    )
    assert TestClient(opened, client=("10.1.2.3", 50000)).get("/metrics").status_code == 200
    assert allowed("::1", "127.0.0.1/32,::1/128") and not allowed("testclient", "0.0.0.0/0")


def test_two_workers_report_their_requests_together(tmp_path: Path) -> None:
    """`weiwan serve --workers 2`: requests answered by either worker are all counted."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {
        **os.environ,
        "WEIWAN_HOME": str(tmp_path),
        "WEIWAN_DATABASE_URL": f"sqlite:///{tmp_path / 'ops.db'}",
        "WEIWAN_SECRET_KEY": "metrics-test",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "weiwan", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        for _ in range(40):  # new connections: both workers answer some
            httpx.get(f"{base}/healthz", timeout=5)
        text = httpx.get(f"{base}/metrics", timeout=5).text
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    samples = _samples(text)
    health = (("method", "GET"), ("route", "/healthz"), ("status", "200"))
    assert samples[("weiwan_http_requests_total", health)] >= 41
    assert (tmp_path / "var" / "prometheus").is_dir()
