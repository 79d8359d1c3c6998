"""Hand the published day over to the people: managers for arrivals, their return visits and
the day's tasks.

It reads only the operational database (the decisions the pipeline published there), so it is
an ops job run by the CLI and the demo after publishing, not a pipeline-to-ops bridge."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from weiwan.core.db import session_scope
from weiwan.core.settings import Settings
from weiwan.ops.consents.service import automated_objector_clause
from weiwan.ops.ledger.service import withdraw_over_limits
from weiwan.ops.surveys.arrivals import visit_tasks_for_arrivals
from weiwan.ops.tasks.due import local_today
from weiwan.ops.tasks.service import assign_customers, tasks_from_decisions

#: days after joining a return visit is due when the caller names none (the setting's default)
VISIT_DUE_DAYS: int = Settings.model_fields["arrival_visit_due_days"].default
#: the centre's time zone when the caller names none (the setting's default)
TIMEZONE: str = Settings.model_fields["timezone"].default
#: how recently an arrival joined to get a visit when the caller names nothing (the default)
VISIT_WINDOW_DAYS: int = Settings.model_fields["arrival_visit_window_days"].default


def hand_over(
    engine: Engine,
    snapshot: date,
    *,
    visit_due_days: int = VISIT_DUE_DAYS,
    visit_window_days: int = VISIT_WINDOW_DAYS,
    tz: ZoneInfo | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Give new customers their managers and their return-visit call (due ``visit_due_days``
    after joining, setting ``arrival_visit_due_days``; for those who joined within
    ``visit_window_days``, setting ``arrival_visit_window_days``), then create the tasks of
    ``snapshot``'s decisions, once they are checked against the live ledger with the grants
    real-time events made since the daily run read its inputs (grants that no longer fit a
    budget or value cap are withdrawn: ``ledger.service``); a customer who has objected to
    automated decisions since then gets no task. All idempotent: running the day
    again adds nothing. Deadlines end a local day of ``tz`` (the setting ``timezone``) counted
    from ``now``'s (default: now). Counts of what was new."""
    tz = tz or ZoneInfo(TIMEZONE)
    with session_scope(engine) as session:
        counts = assign_customers(session)
        counts["return_visits"] = visit_tasks_for_arrivals(
            session,
            snapshot,
            tz,
            due_days=visit_due_days,
            window_days=visit_window_days,
            now=now,
        )
        counts.update(withdraw_over_limits(session, snapshot, local_today(tz, now)))
        counts["tasks"] = tasks_from_decisions(
            session, snapshot, tz, now, unless=automated_objector_clause
        )
    return counts
