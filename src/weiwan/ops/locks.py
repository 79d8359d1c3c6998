"""Transaction-scoped named locks on PostgreSQL (advisory locks), for the decisions that read a
total and then add to it: the per-customer check for an open task, a policy's budget, a
channel's real-time capacity. SQLite serialises writing transactions itself, so there they are
no-ops.

Every caller takes its locks in one global order — customers, then channels, then policies,
each sorted — so two transactions never wait for each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

CUSTOMER = "weiwan-event-task:"
CHANNEL = "weiwan-capacity:"
POLICY = "weiwan-budget:"


def hold(session: Session, prefix: str, names: Iterable[str]) -> None:
    """Hold the transaction lock ``prefix + name`` of each name, in sorted order, until the
    transaction ends (PostgreSQL; nothing elsewhere)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    keys = sorted({f"{prefix}{name}" for name in names})
    if keys:  # one round trip: the locks are taken in the sorted subquery's order
        session.execute(_HOLD, {"keys": keys})


_HOLD = text(
    "SELECT count(pg_advisory_xact_lock(hashtext(k))) "
    "FROM (SELECT k FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k) AS ordered"
)
