"""Open tasks of customers who object to personalised automated decisions (Article 24 PIPL).

A task from the day's decisions, a campaign or a real-time alert was chosen for the customer by
computer from their profile; once they object, those still open are cancelled (manual tasks and
arrivals' return visits were a person's choice and stay). Called by the consent ledger when an
objection comes into force, whatever its source (an agent, the CRM's file, an SMS reply).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from weiwan.ops.base import one_of
from weiwan.ops.tasks.due import OPEN
from weiwan.ops.tasks.models import Task

#: the task sources a computer chose for the customer
AUTOMATED_SOURCES = ("decision", "campaign", "alert")
#: the closing reason of a task an objection cancelled
OBJECTION_REASON = "objects to automated decisions"


def cancel_automated_tasks(session: Session, subscriber_ids: Iterable[str], now: datetime) -> int:
    """Cancel the open automated tasks of ``subscriber_ids`` (closed at ``now``, with the
    reason :data:`OBJECTION_REASON`); how many. Not committed."""
    wanted = sorted(set(subscriber_ids))
    if not wanted:
        return 0
    result = session.execute(
        update(Task)
        .where(
            one_of(session, Task.subscriber_id, wanted),
            Task.status == OPEN,
            Task.source.in_(AUTOMATED_SOURCES),
        )
        .values(status="cancelled", closed_at=now, closed_reason=OBJECTION_REASON)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
