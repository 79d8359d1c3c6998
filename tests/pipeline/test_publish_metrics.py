"""Publishing the dashboard figures (kind ``metrics``): the rows, branch ids, idempotence."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from kpi_fixtures import SNAPSHOT, build_warehouse
from ops_fixtures import empty_engine, engine  # noqa: F401
from weiwan.analytics.churn.registry import ModelRegistry
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.db import session_scope
from weiwan.ops.org.models import Branch
from weiwan.pipeline.publish import KINDS
from weiwan.pipeline.publish.metrics import publish_metrics

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    with build_warehouse(tmp_path / "wh.duckdb") as warehouse:
        yield warehouse


def _rows(db: sa.Engine, table: str) -> list[tuple[object, ...]]:
    with db.connect() as conn:
        result = conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY 1")
        return [tuple(row[1:]) for row in result]  # without the generated id


def test_metrics_is_a_publish_kind() -> None:
    assert "metrics" in KINDS


def test_publish_twice_changes_nothing(
    wh: Warehouse,
    engine: sa.Engine,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    with session_scope(engine) as session:
        session.add(Branch(code="B1", name_zh="一分公司", name_en="Branch one"))
    registry = ModelRegistry(tmp_path / "models")
    rows = publish_metrics(wh, engine, SNAPSHOT, registry=registry, tz=TZ)
    metrics, low = _rows(engine, "published_metrics"), _rows(engine, "dissatisfied_customers")
    assert rows == len(metrics) > 0
    again = publish_metrics(wh, engine, SNAPSHOT, registry=registry, tz=TZ)
    assert again == rows
    assert sorted(map(repr, _rows(engine, "published_metrics"))) == sorted(map(repr, metrics))
    assert _rows(engine, "dissatisfied_customers") == low
    with engine.connect() as conn:
        publications = conn.exec_driver_sql(
            "SELECT kind, rows FROM publications WHERE kind = 'metrics'"
        ).all()
        branch_ids: dict[str, int | None] = dict(
            conn.exec_driver_sql(
                "SELECT DISTINCT branch_code, branch_id FROM published_metrics "
                "WHERE branch_code IS NOT NULL"
            ).all()
        )
        survey = conn.exec_driver_sql(
            "SELECT subscriber_id, score, survey_time FROM dissatisfied_customers"
        ).one()
    assert [tuple(p) for p in publications] == [("metrics", rows)]
    # B1 exists in the operational database, B2 does not (then only all-seeing roles see it)
    assert branch_ids["B1"] is not None and branch_ids["B2"] is None
    assert (survey[0], survey[1]) == ("C", 4)
    assert str(survey[2]).startswith("2026-10-12 01:00")  # 09:00 Shanghai is 01:00 UTC


@pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
def test_publish_replaces_the_previous_figures(
    wh: Warehouse,
    engine: sa.Engine,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    registry = ModelRegistry(tmp_path / "models")
    publish_metrics(wh, engine, SNAPSHOT, registry=registry, tz=TZ)
    later = date(2026, 11, 30)
    publish_metrics(wh, engine, later, registry=registry, tz=TZ)
    with engine.connect() as conn:
        snapshots = conn.exec_driver_sql(
            "SELECT DISTINCT snapshot_date FROM published_metrics"
        ).all()
    assert [str(s[0]) for s in snapshots] == [later.isoformat()]
