"""Publishing complaints (kind ``complaints``): the window's rows with branch ids, UTC times,
idempotence, and the previous month closed once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from kpi_fixtures import SNAPSHOT, build_warehouse
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.db import session_scope
from weiwan.ops.appraisal.models import PublishedComplaint, ScorecardMonth
from weiwan.ops.org.models import Branch
from weiwan.pipeline.publish import KINDS
from weiwan.pipeline.publish.complaints import publish_complaints, window

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    with build_warehouse(tmp_path / "wh.duckdb") as warehouse:
        yield warehouse


def _published(engine: sa.Engine) -> list[tuple[object, ...]]:
    with session_scope(engine) as session:
        return [
            (
                c.complaint_id,
                c.subscriber_id,
                c.at,
                c.category,
                c.severity,
                c.branch_code,
                c.branch_id,
            )
            for c in session.scalars(
                sa.select(PublishedComplaint).order_by(PublishedComplaint.complaint_id)
            )
        ]


def test_complaints_of_the_window_are_published_once(wh: Warehouse, engine: sa.Engine) -> None:
    assert "complaints" in KINDS
    with session_scope(engine) as session:
        session.add(Branch(code="B2", name_zh="二分公司", name_en="Branch two"))
    first, end = window(SNAPSHOT)
    raw = wh.con.con.execute(
        "SELECT c.complaint_id, c.subscriber_id, c.complaint_time, c.category, c.severity, "
        "s.branch FROM complaints c LEFT JOIN subscribers s USING (subscriber_id) "
        "WHERE c.complaint_time >= ? AND c.complaint_time < ? ORDER BY 1",
        [datetime.combine(first, datetime.min.time()), datetime.combine(end, datetime.min.time())],
    ).fetchall()
    assert raw  # the fixture has a complaint in the window
    rows = publish_complaints(wh, engine, SNAPSHOT, tz=TZ)
    assert rows == len(raw)
    published = _published(engine)
    with session_scope(engine) as session:
        b2 = session.scalar(sa.select(Branch.id).where(Branch.code == "B2"))
    assert published == [
        (
            cid,
            sid,
            at.replace(tzinfo=TZ).astimezone(UTC),
            category,
            severity,
            branch,
            b2 if branch == "B2" else None,
        )
        for cid, sid, at, category, severity, branch in raw
    ]
    with session_scope(engine) as session:
        closed = session.scalars(sa.select(ScorecardMonth)).all()
        assert [c.month for c in closed] == [SNAPSHOT.replace(day=1, month=SNAPSHOT.month - 1)]
        closed_at = closed[0].closed_at
    assert publish_complaints(wh, engine, SNAPSHOT, tz=TZ) == rows
    assert _published(engine) == published
    with session_scope(engine) as session:
        assert session.scalars(sa.select(ScorecardMonth.closed_at)).all() == [closed_at]
        publications = session.execute(
            sa.text("SELECT rows FROM publications WHERE kind = 'complaints'")
        ).all()
    assert [p[0] for p in publications] == [rows]
