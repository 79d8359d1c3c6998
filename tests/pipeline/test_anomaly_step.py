"""The pipeline's anomaly step and the publish of the pool: one entry per (subscriber, rule,
period) however often a date is run and published, statuses kept, the pool's denormalised
columns, and the anomaly rules edited in the web taking effect."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from anomaly_fixtures import CASES, SNAPSHOT, build_warehouse
from api_helpers import PASSWORD
from ops_fixtures import empty_engine, engine  # noqa: F401
from weiwan.analytics.alerts import DEFAULT_ANOMALY_FILES
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.db import session_scope
from weiwan.ops.anomalies.models import Anomaly
from weiwan.ops.org.models import Branch
from weiwan.ops.org.roles import Role
from weiwan.ops.org.schemas import UserCreate
from weiwan.ops.org.service import create_user
from weiwan.pipeline.anomaly_steps import ANOMALY_SCHEMA
from weiwan.pipeline.publish.anomalies import publish_anomalies
from weiwan.pipeline.run import STEPS, run_pipeline

NEXT_DAY = date(2026, 11, 1)
HITS = sorted(f"{name}_hit" for cases in CASES.values() for name, _h, _c in cases)


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    with build_warehouse(tmp_path / "wh.duckdb") as warehouse:
        yield warehouse


def _stored(wh: Warehouse, day: date) -> list[tuple[str, str, str]]:
    table = wh.table("anomalies")
    rows = table.filter(table.snapshot_date == day).to_pandas()
    return sorted(zip(rows.subscriber_id, rows.rule_id, rows.period_key, strict=True))


def test_the_step_runs_after_the_alerts() -> None:
    names = [name for name, _ in STEPS]
    assert names.index("anomalies") == names.index("alerts") + 1


def test_rerunning_a_date_or_the_next_day_adds_no_entry(wh: Warehouse) -> None:
    run_pipeline(wh, SNAPSHOT)
    first = _stored(wh, SNAPSHOT)
    assert sorted(s for s, _r, _p in first) == HITS
    assert list(wh.table("anomalies").schema().names) == list(ANOMALY_SCHEMA)
    run_pipeline(wh, SNAPSHOT)
    assert _stored(wh, SNAPSHOT) == first
    # the next day sees the same bill month and the same events: nothing new
    result = run_pipeline(wh, NEXT_DAY)
    assert result.rows["anomalies"] == 0 and _stored(wh, NEXT_DAY) == []
    # … and re-running the first date still gives its own entries
    run_pipeline(wh, SNAPSHOT)
    assert _stored(wh, SNAPSHOT) == first


def _pool(db: sa.Engine) -> list[tuple[str, str, str, str]]:
    with session_scope(db) as session:
        rows = session.execute(
            sa.select(Anomaly.subscriber_id, Anomaly.rule_id, Anomaly.period_key, Anomaly.status)
        ).all()
        return sorted((str(a), str(b), str(c), str(d)) for a, b, c, d in rows)


def test_publish_twice_adds_nothing_and_keeps_statuses(
    wh: Warehouse,
    engine: sa.Engine,  # noqa: F811  (the fixture imported above)
) -> None:
    with session_scope(engine) as session:
        city = Branch(code="R1", name_zh="一市", name_en="City one")
        session.add(city)
        session.flush()
        branch = Branch(code="B1", name_zh="一分公司", name_en="Branch one", parent_id=city.id)
        session.add(branch)
        session.flush()
        manager = create_user(
            session,
            UserCreate(
                username="wang",
                display_name="王经理",
                password=PASSWORD,
                role=Role.AGENT,
                branch_id=city.id,
            ),
        ).id
        branch_id = branch.id
    run_pipeline(wh, SNAPSHOT)
    added = publish_anomalies(wh, engine, SNAPSHOT)
    assert added == len(HITS) == len(_pool(engine))
    with session_scope(engine) as session:
        entry = session.scalars(sa.select(Anomaly).where(Anomaly.rule_id == "bill_far_above")).one()
        assert (entry.subscriber_id, entry.branch_code, entry.branch_id) == (
            "bill_far_above_hit",
            "B1",
            branch_id,
        )
        assert (entry.account_manager, entry.manager_id) == ("王经理", manager)
        assert (entry.category, entry.name_zh, entry.detected_on) == (
            "billing",
            "账单异常偏高",
            SNAPSHOT,
        )
        assert entry.value_tier is not None
        assert json.loads(entry.evidence)["bill_1m"] == 160.0
        entry.status, entry.note = "dismissed", "已核实"
    before = _pool(engine)
    assert publish_anomalies(wh, engine, SNAPSHOT) == 0
    run_pipeline(wh, NEXT_DAY)
    assert publish_anomalies(wh, engine, NEXT_DAY) == 0
    assert _pool(engine) == before
    assert ("bill_far_above_hit", "bill_far_above", "2026-10-01", "dismissed") in before
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT snapshot_date, rows FROM publications WHERE kind = 'anomalies'")
        ).all()
    assert sorted((str(d), n) for d, n in rows) == [("2026-10-31", 0), ("2026-11-01", 0)]


def test_the_edited_anomaly_rules_are_the_ones_run(wh: Warehouse, tmp_path: Path) -> None:
    shipped = DEFAULT_ANOMALY_FILES[0].read_text("utf-8")
    edited = shipped.replace(
        '{field: bill_ratio_prev_3m, op: ">=", value: 2.0}',
        '{field: bill_ratio_prev_3m, op: ">=", value: 1.9}',
    )
    assert edited != shipped
    (tmp_path / "home" / "config").mkdir(parents=True)
    (tmp_path / "home" / "config" / "anomalies.yaml").write_text(edited, "utf-8")
    run_pipeline(wh, SNAPSHOT, config_home=tmp_path / "home")
    fired = {s for s, r, _p in _stored(wh, SNAPSHOT) if r == "bill_far_above"}
    assert fired == {"bill_far_above_hit", "bill_far_above_clean"}  # 159 / 80 ≥ 1.9
