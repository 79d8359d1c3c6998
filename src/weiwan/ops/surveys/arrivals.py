"""New-subscriber return visits (新入网回访): one welcome / return-visit call per arrival.

Every subscriber in the arrival stage (lifecycle ``onboarding``) gets exactly one visit task,
ever: an ``outbound_call`` task of source ``arrival`` routed to the subscriber's outbound
manager (``assign_customers`` gives one), due ``due_days`` after joining (an arrival handed
over later is due the day it is handed over), with the return-visit questionnaire
(``surveys.return_visit``) asked on it. Recording the call finishes the task like any other
(``contacts.records.task_changes``); the dashboards count the visits
(``reports.live.return_visits``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from weiwan.ops.customers.models import CustomerView
from weiwan.ops.surveys.return_visit import ensure_return_visit_questionnaire
from weiwan.ops.tasks.due import end_of_day, local_today
from weiwan.ops.tasks.models import CustomerAssignment, Task
from weiwan.ops.tasks.service import ARRIVAL_STAGE, TaskSpec, create_tasks

#: source, origin and channel of the visit tasks
VISIT_SOURCE = "arrival"
VISIT_ORIGIN = "arrival"
VISIT_CHANNEL = "outbound_call"
TITLE_ZH = "新入网回访"
TITLE_EN = "New-subscriber return visit"


def visit_due(
    join_date: date | None, due_days: int, tz: ZoneInfo, now: datetime | None = None
) -> datetime:
    """When a visit is due: the end of the local day ``due_days`` after joining, but not
    before the end of the day it is handed over (``tasks.due``)."""
    today = local_today(tz, now)
    day = today if join_date is None else max(join_date + timedelta(days=due_days), today)
    return end_of_day(day, tz)


def visit_tasks_for_arrivals(
    session: Session,
    snapshot: date,
    tz: ZoneInfo,
    *,
    due_days: int,
    window_days: int = 30,
    now: datetime | None = None,
) -> int:
    """Create the return-visit task of every arrival that has none yet (idempotent on re-runs
    of a day and across days: a visit closed or transferred to another channel still counts);
    routed to the arrival's outbound manager (without one, the usual routing applies). Only
    arrivals who joined within ``window_days`` before ``snapshot`` (or whose join date is not
    known) get one: a welcome call months after joining is no welcome, and on a first install
    it would flood the agents. Installs the shipped return-visit questionnaire the first time.
    Returns how many are new."""
    has_visit = exists().where(
        Task.subscriber_id == CustomerView.subscriber_id, Task.source == VISIT_SOURCE
    )
    rows = session.execute(
        select(CustomerView.subscriber_id, CustomerView.join_date, CustomerAssignment.user_id)
        .outerjoin(
            CustomerAssignment,
            and_(
                CustomerAssignment.subscriber_id == CustomerView.subscriber_id,
                CustomerAssignment.kind == "outbound_manager",
            ),
        )
        .where(
            CustomerView.lifecycle_stage == ARRIVAL_STAGE,
            or_(
                CustomerView.join_date.is_(None),
                CustomerView.join_date >= snapshot - timedelta(days=window_days),
            ),
            ~has_visit,
        )
        .order_by(CustomerView.subscriber_id)
    ).all()
    if not rows:
        return 0
    ensure_return_visit_questionnaire(session)
    return create_tasks(
        session,
        (
            TaskSpec(
                subscriber_id=sid,
                source=VISIT_SOURCE,
                origin=VISIT_ORIGIN,
                channel=VISIT_CHANNEL,
                due_at=visit_due(joined, due_days, tz, now),
                title_zh=TITLE_ZH,
                title_en=TITLE_EN,
                assignee_id=manager,
            )
            for sid, joined, manager in rows
        ),
    )
