"""Hand the published day over to the people: managers for arrivals and the day's tasks."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

from weiwan.core.db import session_scope
from weiwan.ops.tasks.service import assign_customers, tasks_from_decisions


def hand_over(engine: Engine, snapshot: date) -> dict[str, int]:
    """Give new customers their managers, then create the tasks of ``snapshot``'s decisions
    (both idempotent: running the day again adds nothing). Counts of what was new."""
    with session_scope(engine) as session:
        counts = assign_customers(session)
        counts["tasks"] = tasks_from_decisions(session, snapshot)
    return counts
