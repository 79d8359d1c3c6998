"""The daily run brings the erasures made in the operational database (API, CLI) into the
warehouse before any step: the same pseudonym, once; on Spark it refuses once one exists."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

import factories as f
from weiwan.analytics.ingest import ingest
from weiwan.analytics.privacy import SparkNotSupportedError, subscriber_rows
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.db import make_engine, session_scope
from weiwan.ops.migrate import upgrade
from weiwan.ops.privacy.service import erase_subscriber
from weiwan.pipeline.collect import collect_erasures

WHO = "U000002"


@pytest.fixture
def ops(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def test_an_erasure_made_in_ops_reaches_the_warehouse_once(
    tmp_path: Path, warehouse: Warehouse, ops: Engine
) -> None:
    f.delivery(tmp_path / "d1", subscribers=6)
    ingest(tmp_path / "d1", snapshot=date(2026, 10, 31), warehouse=warehouse)
    assert collect_erasures(ops, warehouse) == 0  # nobody erased: nothing to do
    with session_scope(ops) as session:
        done = erase_subscriber(session, None, WHO, "REQ-9", held_elsewhere=True)
    assert collect_erasures(ops, warehouse) == 3  # 1 profile deleted, 2 usage rows renamed
    assert not any(t.rows for t in subscriber_rows(warehouse, WHO))
    held = {t.table: t.rows for t in subscriber_rows(warehouse, done.pseudonym) if t.rows}
    assert held == {"monthly_usage": 2}
    assert collect_erasures(ops, warehouse) == 0  # once


def test_spark_refuses_only_once_an_erasure_exists(ops: Engine) -> None:
    spark_like = object()
    assert collect_erasures(ops, spark_like) == 0  # type: ignore[arg-type]
    with session_scope(ops) as session:
        erase_subscriber(session, None, WHO, "REQ-9", held_elsewhere=True)
    with pytest.raises(SparkNotSupportedError):
        collect_erasures(ops, spark_like)  # type: ignore[arg-type]
