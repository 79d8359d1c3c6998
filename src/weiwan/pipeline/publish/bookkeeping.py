"""The ``publications`` bookkeeping: one row per published (kind, snapshot date)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from weiwan.ops.base import utcnow
from weiwan.ops.customers.models import Publication
from weiwan.pipeline.publish.transport import table_of, upsert


def record_publication(conn: sa.Connection, kind: str, snapshot: date, rows: int) -> None:
    """Upsert the ``publications`` row of (``kind``, ``snapshot``): ``rows`` and now.

    Call it on the connection that wrote the kind's rows, so both commit together."""
    values = {"kind": kind, "snapshot_date": snapshot, "rows": rows, "published_at": utcnow()}
    upsert(conn, table_of(Publication), values, keys=("kind", "snapshot_date"))
