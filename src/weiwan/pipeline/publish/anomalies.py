"""Publish the anomaly pool's new entries (kind ``anomalies``).

The anomaly step's rows of the snapshot are added to the ops table ``anomalies`` with
``INSERT … ON CONFLICT DO NOTHING`` on (subscriber, rule, period)
(:func:`weiwan.ops.bulk.insert_ignoring_duplicates`): re-publishing a date, or a
later date that sees the same firing, adds nothing and never resets an entry's status or note.
Branch codes become ``branch_id`` through ``branches`` (the customer view's publish creates
them); the data's account manager becomes ``manager_id`` when an active agent's display name or
username is that name (one in the entry's branch or its city branch first, else the only one).
The rows and the ``publications`` row are written in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import sqlalchemy as sa

from weiwan.analytics.anomalies import POOL_TABLE
from weiwan.analytics.profile import snapshot_rows
from weiwan.analytics.warehouse import Warehouse
from weiwan.ops.anomalies.models import Anomaly
from weiwan.ops.base import utcnow
from weiwan.ops.bulk import insert_ignoring_duplicates
from weiwan.ops.org.models import Branch, User
from weiwan.ops.org.roles import Role
from weiwan.pipeline.publish.bookkeeping import record_publication
from weiwan.pipeline.publish.branches import branch_ids
from weiwan.pipeline.publish.transport import table_of

KIND = "anomalies"
#: the pool's unique key: an entry is added once
KEY = ("subscriber_id", "rule_id", "period_key")
#: rows per INSERT … ON CONFLICT DO NOTHING
CHUNK = 2_000


def _text(value: Any) -> str | None:
    return None if value is None or value != value else str(value)  # NaN != NaN


class ManagerIndex:
    """Account-manager names (as in the data) → user ids of active agents."""

    def __init__(
        self, users: Iterable[tuple[int, str, str, int]], parents: Mapping[int, int | None]
    ) -> None:
        self.parents = parents
        self.by_name: dict[str, list[tuple[int, int]]] = {}
        for user_id, username, display_name, branch_id in users:
            for name in {username, display_name}:
                self.by_name.setdefault(name, []).append((user_id, branch_id))

    def find(self, name: str | None, branch_id: int | None) -> int | None:
        """The user named ``name``: in the branch or its parent first, else the only one."""
        found = self.by_name.get(name or "", [])
        near = {branch_id, self.parents.get(branch_id) if branch_id is not None else None}
        local = [user for user, branch in found if branch in near - {None}]
        if local:
            return min(local)
        distinct = {user for user, _ in found}
        return distinct.pop() if len(distinct) == 1 else None


def _manager_index(conn: sa.Connection) -> ManagerIndex:
    users = table_of(User)
    rows = conn.execute(
        sa.select(users.c.id, users.c.username, users.c.display_name, users.c.branch_id).where(
            users.c.active.is_(True), users.c.role == Role.AGENT.value
        )
    ).all()
    parents = dict(conn.execute(sa.select(Branch.id, Branch.parent_id)).all())
    return ManagerIndex([(int(u), str(n), str(d), int(b)) for u, n, d, b in rows], parents)


def pool_rows(
    records: Iterable[Mapping[str, Any]], branch_ids: Mapping[str, int], managers: ManagerIndex
) -> list[dict[str, Any]]:
    """The ``anomalies`` rows of the step's records."""
    now = utcnow()
    rows = []
    for record in records:
        branch = _text(record.get("branch"))
        branch_id = branch_ids.get(branch) if branch else None
        manager = _text(record.get("account_manager"))
        rows.append(
            {
                "subscriber_id": str(record["subscriber_id"]),
                "rule_id": str(record["rule_id"]),
                "period_key": str(record["period_key"]),
                "category": str(record["category"]),
                "severity": str(record["severity"]),
                "name_zh": str(record["name_zh"])[:100],
                "name_en": str(record["name_en"])[:100],
                "evidence": _text(record.get("evidence")) or "{}",
                "detected_on": record["snapshot_date"],
                "branch_code": branch,
                "branch_id": branch_id,
                "value_tier": _text(record.get("value_tier")),
                "account_manager": manager[:64] if manager else None,
                "manager_id": managers.find(manager, branch_id) if manager else None,
                "status": "new",
                "created_at": now,
            }
        )
    return rows


def publish_anomalies(warehouse: Warehouse, engine: sa.Engine, snapshot: date) -> int:
    """Add ``snapshot``'s new pool entries; returns how many were added (0 on a re-publish)."""
    records: list[dict[str, Any]] = []
    if warehouse.has_table(POOL_TABLE):
        frame = snapshot_rows(warehouse, POOL_TABLE, snapshot).to_pandas()
        frame["snapshot_date"] = snapshot
        records = frame.to_dict("records")
    with engine.begin() as conn:
        rows = pool_rows(records, branch_ids(conn), _manager_index(conn))
        added = insert_ignoring_duplicates(conn, Anomaly, rows, keys=KEY, chunk=CHUNK)
        record_publication(conn, KIND, snapshot, added)
    return added
