"""Publish the complaints of the last months (kind ``complaints``), for the scorecards.

The warehouse's ``complaints`` (each complaint's version as delivered up to the snapshot) of the
last three complete months and the current month up to the snapshot day, with the complaining
subscriber's branch, replace ``published_complaints`` whole in one transaction with the kind's
``publications`` row: publishing the same snapshot twice leaves the same rows. Complaint times
are the operator's local time and are stored in UTC. Afterwards the month before the
snapshot's is closed (its scorecards stored) if it was not closed yet.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from weiwan.analytics.features import as_of_rows
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.logging import get_logger
from weiwan.core.months import add_months
from weiwan.core.settings import get_settings
from weiwan.ops.appraisal.models import PublishedComplaint
from weiwan.ops.appraisal.scorecards import close_previous_month_once
from weiwan.pipeline.publish.bookkeeping import record_publication
from weiwan.pipeline.publish.branches import branch_ids
from weiwan.pipeline.publish.transport import insert_rows, table_of

KIND = "complaints"
#: complete months kept before the current one
MONTHS_BACK = 3

log = get_logger(__name__)


def window(snapshot: date) -> tuple[date, date]:
    """The local days [first, end) published for ``snapshot``."""
    return add_months(snapshot.replace(day=1), -MONTHS_BACK), snapshot + timedelta(days=1)


def complaint_frame(warehouse: Warehouse, snapshot: date) -> pd.DataFrame:
    """The complaints of :func:`window` with the subscriber's branch (Ibis, one query)."""
    first, end = window(snapshot)
    if not warehouse.has_table("complaints"):
        return pd.DataFrame(
            columns=["complaint_id", "subscriber_id", "complaint_time", "category", "severity"]
        )
    rows = as_of_rows(warehouse, "complaints", snapshot)
    rows = rows.filter(
        (rows.complaint_time >= ibis.literal(first).cast("timestamp"))
        & (rows.complaint_time < ibis.literal(end).cast("timestamp"))
    )
    picked = rows.select("complaint_id", "subscriber_id", "complaint_time", "category", "severity")
    if warehouse.has_table("subscribers"):
        subs = as_of_rows(warehouse, "subscribers", snapshot)
        subs = subs.select(s_sid=subs.subscriber_id, branch=subs.branch)
        picked = picked.left_join(subs, picked.subscriber_id == subs.s_sid).drop("s_sid")
    frame: pd.DataFrame = picked.order_by("complaint_id").to_pandas()
    return frame


def complaint_rows(
    frame: pd.DataFrame, branch_ids: dict[str, int], tz: ZoneInfo
) -> list[dict[str, Any]]:
    """The ``published_complaints`` rows of a frame (times to UTC, branch codes to ids)."""
    rows = []
    for record in frame.to_dict("records"):
        branch = record.get("branch")
        code = branch if isinstance(branch, str) else None
        local: datetime = pd.Timestamp(record["complaint_time"]).to_pydatetime()
        rows.append(
            {
                "complaint_id": str(record["complaint_id"])[:64],
                "subscriber_id": str(record["subscriber_id"]),
                "at": local.replace(tzinfo=tz).astimezone(UTC),
                "category": str(record["category"]),
                "severity": str(record["severity"]),
                "branch_code": code,
                "branch_id": branch_ids.get(code) if code else None,
            }
        )
    return rows


def publish_complaints(
    warehouse: Warehouse, engine: sa.Engine, snapshot: date, *, tz: ZoneInfo | None = None
) -> int:
    """Replace the published complaints with ``snapshot``'s window, then close the previous
    month's scorecards once; returns the complaints written."""
    zone = tz or ZoneInfo(get_settings().timezone)
    frame = complaint_frame(warehouse, snapshot)
    table = table_of(PublishedComplaint)
    with engine.begin() as conn:
        rows = complaint_rows(frame, branch_ids(conn), zone)
        conn.execute(sa.delete(table))
        insert_rows(conn, table, rows)
        record_publication(conn, KIND, snapshot, len(rows))
    with Session(engine) as session, session.begin():
        closed = close_previous_month_once(session, snapshot, zone)
    if closed is not None:
        log.info("scorecards closed", month=closed.isoformat())
    return len(rows)
