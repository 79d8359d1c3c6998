"""The demo end to end on a small simulated operator: simulate, ingest, summarise; idempotent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from weiwan.analytics.contract import TABLES
from weiwan.analytics.warehouse import Warehouse
from weiwan.cli import app
from weiwan.core.db import make_engine, session_scope
from weiwan.core.settings import get_settings
from weiwan.demo.people import DEMO_PASSWORD
from weiwan.ops.handover.service import VISIT_WINDOW_DAYS
from weiwan.ops.org.access import actor_for
from weiwan.ops.org.models import User
from weiwan.ops.org.roles import Role
from weiwan.ops.reports import live as reports_live


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("WEIWAN_HOME", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_demo_builds_an_operator_and_loads_it_once(home: Path) -> None:
    runner = CliRunner()
    args = ["demo", "--subscribers", "3000", "--months", "4", "--seed", "5", "--no-serve"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "monthly churn" in first.stdout
    wh = Warehouse(home / "warehouse.duckdb")
    try:
        subscribers = wh.execute("SELECT count(*) FROM subscribers")[0][0]
        months = wh.execute("SELECT count(DISTINCT bill_month) FROM monthly_usage")[0][0]
        churned = wh.execute("SELECT count(*) FROM churn_records")[0][0]
        quarantined = wh.execute("SELECT count(*) FROM quarantine")[0][0]
        quadrants = wh.execute("SELECT count(DISTINCT clv_quadrant), count(future_value) FROM clv")
        tiers = {r[0] for r in wh.execute("SELECT DISTINCT value_tier FROM segments")}
        tag_columns = len(wh.execute("DESCRIBE tags")) - 2
        groups = wh.execute("SELECT count(DISTINCT group_id) FROM target_groups")[0][0]
        drift = dict(wh.execute("SELECT feature, psi FROM drift"))
        scores = wh.execute(
            "SELECT count(*), count(reason_1), count(DISTINCT risk_band) FROM scores"
        )[0]
    finally:
        wh.close()
    assert subscribers == 3000
    assert months == 4
    assert churned > 0
    assert quarantined == 0  # the simulator writes contract-clean extracts
    assert quadrants[0][0] == 4 and quadrants[0][1] > 2000  # survival fitted on its churn history
    assert tiers == {"diamond", "gold", "silver", "ordinary", "mass"}
    assert tag_columns >= 45
    assert groups >= 5
    assert scores[0] > 2000 and scores[1] > 0 and scores[2] == 3  # first run trains a model
    assert (home / "models" / "registry.json").exists()
    assert "score" in drift and "arpu_1m" in drift  # PSI against the model's training data
    assert all(v >= 0 for v in drift.values())
    people_before = _ops_counts(home)
    assert people_before["roles"] == len(Role)  # one login per role, printed with the password
    assert DEMO_PASSWORD in first.stdout and "agent3" in first.stdout
    assert people_before["agent_tasks"] > 0 and people_before["contacts"] > 0
    # the managers' day: plans, checks and pool entries handed out through the services
    assert people_before["weekly_plans"] == 3 and people_before["daily_checks"] > 0
    assert people_before["pool"] > 0 and people_before["pool_assigned"] > 0
    # every arrival has its return visit; the demo agents worked them like their other tasks,
    # so the overview's coverage comes from the visits (was 1 of 108 before visits existed)
    assert people_before["visits"] == people_before["arrivals"] > 0
    visits = _visit_rates(home)
    assert visits["visit_coverage"][1] == people_before["visits"]
    # the demo agents (one branch) worked most of theirs; other branches' visits wait
    assert visits["visit_coverage"][0] >= 0.5 * people_before["assigned_visits"]
    assert visits["visit_coverage"][0] > 0.1 * people_before["visits"]
    assert 0 < visits["visit_success"][0] < visits["visit_coverage"][0]
    assert 0 < visits["visit_feedback"][0] <= visits["visit_success"][0]
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    # every table skipped: same bytes, same snapshot
    assert second.stdout.count("unchanged") == len(TABLES)
    assert _ops_counts(home) == people_before  # no new users, tasks or contacts


def _ops_counts(home: Path) -> dict[str, int]:
    """Users' roles, the demo agents' tasks and the contacts in the demo's operational DB."""
    engine = make_engine(f"sqlite:///{home / 'weiwan.db'}")
    try:
        with engine.connect() as conn:
            return {
                "roles": conn.scalar(text("SELECT count(DISTINCT role) FROM users")),
                "users": conn.scalar(text("SELECT count(*) FROM users")),
                "agent_tasks": conn.scalar(
                    text(
                        "SELECT count(*) FROM tasks t JOIN users u ON u.id = t.assignee_id"
                        " WHERE u.role = 'agent'"
                    )
                ),
                "contacts": conn.scalar(text("SELECT count(*) FROM contacts")),
                "weekly_plans": conn.scalar(text("SELECT count(*) FROM weekly_plans")),
                "daily_checks": conn.scalar(text("SELECT count(*) FROM daily_checks")),
                "pool": conn.scalar(text("SELECT count(*) FROM anomalies")),
                "pool_assigned": conn.scalar(
                    text("SELECT count(*) FROM anomalies WHERE status = 'assigned'")
                ),
                "data_quality": conn.scalar(text("SELECT count(*) FROM data_quality_reports")),
                # those who joined within the visit window (arrival_visit_window_days)
                "arrivals": sum(
                    1
                    for snapshot, joined in conn.execute(
                        text(
                            "SELECT snapshot_date, join_date FROM customer_view"
                            " WHERE lifecycle_stage = 'onboarding'"
                        )
                    )
                    if joined is None
                    or date.fromisoformat(str(joined))
                    >= date.fromisoformat(str(snapshot)) - timedelta(days=VISIT_WINDOW_DAYS)
                ),
                "visits": conn.scalar(text("SELECT count(*) FROM tasks WHERE source = 'arrival'")),
                "assigned_visits": conn.scalar(
                    text(
                        "SELECT count(*) FROM tasks"
                        " WHERE source = 'arrival' AND assignee_id IS NOT NULL"
                    )
                ),
            }
    finally:
        engine.dispose()


def _visit_rates(home: Path) -> dict[str, tuple[int, int]]:
    """The return-visit rates of the director's overview of this month in the demo's DB."""
    engine = make_engine(f"sqlite:///{home / 'weiwan.db'}")
    tz = ZoneInfo(get_settings().timezone)
    try:
        with session_scope(engine) as session:
            director = session.scalars(
                select(User).where(User.role == Role.DIRECTOR.value).limit(1)
            ).one()
            rates = reports_live.live_rates(
                session, actor_for(session, director), datetime.now(tz).date(), tz
            )
            return {r.name: (r.numerator, r.denominator) for r in rates}
    finally:
        engine.dispose()
