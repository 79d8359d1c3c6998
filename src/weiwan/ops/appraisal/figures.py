"""The raw monthly counts of each agent that the scorecards are built from (one grouped query
per figure over the operational records of the month [start, end), UTC).

Definitions (docs/appraisal.md): contacts, calls and reached calls, reached contacts and
acceptances count as the dashboards' league tables do (``ops.reports.live``); the rest are
defined here.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, case, exists, func, select
from sqlalchemy.orm import Session, aliased

from weiwan.core.ttl_cache import TTLCache
from weiwan.ops.campaigns.models import HOLDOUT, TREATED, Campaign, CampaignMember
from weiwan.ops.contacts.models import Contact, QualityInspection
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.reports.live import contact_flags
from weiwan.ops.surveys.models import SurveyResponse
from weiwan.ops.tasks.models import CustomerAssignment, Task

from .models import PublishedComplaint

#: a member is retained when the latest customer view holds them with this status
ACTIVE = "active"
#: the counts of one agent (every one an integer or float sum)
COUNTS = (
    "contacts",
    "calls",
    "calls_reached",
    "reached",
    "accepted",
    "assigned",
    "inspections",
    "inspection_points",
    "questionnaire_contacts",
    "questionnaire_answered",
    "complaints",
    "treated_attributed",
    "treated_retained",
    "holdout_expected",
)

Counts = dict[int, dict[str, float]]
#: subscribers looked up per query
CHUNK = 1_000


def _sum(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _add(counts: Counts, user_id: int | None, **values: float) -> None:
    if user_id is None:
        return
    row = counts[int(user_id)]
    for key, value in values.items():
        row[key] = row.get(key, 0.0) + float(value or 0)


def _contacts(session: Session, counts: Counts, start: datetime, end: datetime) -> None:
    flags = contact_flags(start, end)
    flag = flags.flags
    query = (
        flags.joined(
            select(
                Contact.user_id,
                func.count(),
                _sum(flag["call"]),
                _sum(flag["call_reached"]),
                _sum(flag["reached"]),
                _sum(flag["accepted"]),
            )
        )
        .where(
            Contact.user_id.is_not(None),
            Contact.status == "sent",
            Contact.at >= start,
            Contact.at < end,
        )
        .group_by(Contact.user_id)
    )
    for user_id, contacts, calls, calls_reached, reached, accepted in session.execute(query):
        _add(
            counts,
            int(user_id),
            contacts=contacts,
            calls=calls,
            calls_reached=calls_reached,
            reached=reached,
            accepted=accepted,
        )


def _assigned(session: Session, counts: Counts, start: datetime, end: datetime) -> None:
    # distinct (assignee, subscriber) pairs first, then counted: a hashed DISTINCT instead of
    # the sort a count(DISTINCT …) per group needs (half the time on 100 k tasks a month)
    pairs = (
        select(Task.assignee_id, Task.subscriber_id)
        .where(
            Task.assignee_id.is_not(None),
            Task.status == "done",
            Task.closed_at >= start,
            Task.closed_at < end,
        )
        .distinct()
        .subquery("done_pairs")
    )
    query = select(pairs.c.assignee_id, func.count()).group_by(pairs.c.assignee_id)
    for user_id, number in session.execute(query):
        _add(counts, user_id, assigned=number)


def _quality(session: Session, counts: Counts, start: datetime, end: datetime) -> None:
    query = (
        select(Contact.user_id, func.count(), func.sum(QualityInspection.score))
        .join(Contact, Contact.id == QualityInspection.contact_id)
        .where(
            Contact.user_id.is_not(None),
            QualityInspection.at >= start,
            QualityInspection.at < end,
        )
        .group_by(Contact.user_id)
    )
    for user_id, number, points in session.execute(query):
        _add(counts, user_id, inspections=number, inspection_points=points)


def _questionnaires(session: Session, counts: Counts, start: datetime, end: datetime) -> None:
    campaigns = list(
        session.scalars(select(Campaign.id).where(Campaign.questionnaire_id.is_not(None)))
    )
    if not campaigns:
        return
    answered = exists().where(SurveyResponse.contact_id == Contact.id)
    query = (
        select(Contact.user_id, func.count(), _sum(answered))
        .where(
            Contact.campaign_id.in_(campaigns),
            Contact.user_id.is_not(None),
            Contact.status == "sent",
            Contact.at >= start,
            Contact.at < end,
        )
        .group_by(Contact.user_id)
    )
    for user_id, number, done in session.execute(query):
        _add(counts, user_id, questionnaire_contacts=number, questionnaire_answered=done)


def _complaints(session: Session, counts: Counts, start: datetime, end: datetime) -> None:
    """The month's complaints per subscriber (few), then their managers looked up by
    subscriber (the assignments' primary key leads with it) in chunks; a complaint counts
    once per managing user."""
    per_subscriber = dict(
        session.execute(
            select(PublishedComplaint.subscriber_id, func.count())
            .where(PublishedComplaint.at >= start, PublishedComplaint.at < end)
            .group_by(PublishedComplaint.subscriber_id)
        ).all()
    )
    subscribers = sorted(per_subscriber)
    for first in range(0, len(subscribers), CHUNK):
        chunk = subscribers[first : first + CHUNK]
        managers = session.execute(
            select(CustomerAssignment.user_id, CustomerAssignment.subscriber_id)
            .where(CustomerAssignment.subscriber_id.in_(chunk))
            .distinct()
        ).all()
        for user_id, subscriber_id in managers:
            _add(counts, user_id, complaints=per_subscriber[subscriber_id])


def holdout_rates(session: Session) -> dict[int, float]:
    """Per campaign with a hold-out: the share of its hold-out members still active."""
    retained = and_(
        CustomerView.subscriber_id == CampaignMember.subscriber_id, CustomerView.status == ACTIVE
    )
    rows = session.execute(
        select(CampaignMember.campaign_id, func.count(), func.count(CustomerView.subscriber_id))
        .outerjoin(CustomerView, retained)
        .where(CampaignMember.arm == HOLDOUT)
        .group_by(CampaignMember.campaign_id)
    ).all()
    return {int(c): kept / size for c, size, kept in rows if size}


def _treated_member(
    campaign_id: SQLColumnExpression[Any], subscriber_id: SQLColumnExpression[Any]
) -> ColumnElement[bool]:
    """The join to the campaign member of the treated arm for this campaign and subscriber."""
    return and_(
        CampaignMember.campaign_id == campaign_id,
        CampaignMember.subscriber_id == subscriber_id,
        CampaignMember.arm == TREATED,
    )


def _saves(session: Session, counts: Counts, start: datetime, end: datetime) -> None:
    """Treated members of campaigns with a hold-out, attributed to the agent of their first
    sent contact in the campaign (else the assignee of their first done campaign task) in the
    month of that contact (task: of its closing); each counts retained (1 or 0) minus its
    campaign's hold-out retention rate."""
    rates = holdout_rates(session)
    if not rates:
        return
    campaigns = list(rates)
    first = (
        select(func.min(Contact.id).label("first_id"))
        .where(
            Contact.status == "sent",
            Contact.user_id.is_not(None),
            Contact.campaign_id.in_(campaigns),
        )
        .group_by(Contact.campaign_id, Contact.subscriber_id)
        .subquery("first_contacts")
    )
    served = aliased(Contact)
    retained = exists().where(
        CustomerView.subscriber_id == CampaignMember.subscriber_id,
        CustomerView.status == ACTIVE,
    )
    by_contact = (
        select(served.user_id, served.campaign_id, _sum(retained), func.count())
        .join(first, first.c.first_id == served.id)
        .join(CampaignMember, _treated_member(served.campaign_id, served.subscriber_id))
        .where(served.at >= start, served.at < end)
        .group_by(served.user_id, served.campaign_id)
    )
    contacted = exists().where(
        Contact.campaign_id == Task.campaign_id,
        Contact.subscriber_id == Task.subscriber_id,
        Contact.status == "sent",
        Contact.user_id.is_not(None),
    )
    first_task = (
        select(func.min(Task.id).label("first_id"))
        .where(
            Task.status == "done",
            Task.assignee_id.is_not(None),
            Task.campaign_id.in_(campaigns),
            ~contacted,
        )
        .group_by(Task.campaign_id, Task.subscriber_id)
        .subquery("first_tasks")
    )
    task = aliased(Task)
    by_task = (
        select(task.assignee_id, task.campaign_id, _sum(retained), func.count())
        .join(first_task, first_task.c.first_id == task.id)
        .join(CampaignMember, _treated_member(task.campaign_id, task.subscriber_id))
        .where(task.closed_at >= start, task.closed_at < end)
        .group_by(task.assignee_id, task.campaign_id)
    )
    for query in (by_contact, by_task):
        for user_id, campaign_id, kept, number in session.execute(query):
            _add(
                counts,
                user_id,
                treated_attributed=number,
                treated_retained=kept,
                holdout_expected=number * rates[int(campaign_id)],
            )


#: seconds a month's live counts are reused (the page says so), as the dashboards' figures
LIVE_SECONDS = 60.0
_LIVE_ENTRIES = 64
_live: TTLCache[tuple[Any, ...], Counts] = TTLCache(LIVE_SECONDS, max_entries=_LIVE_ENTRIES)


def forget_counts() -> None:
    """Drop the reused counts (tests, or after a bulk import)."""
    _live.clear()


def _count_all(session: Session, start: datetime, end: datetime) -> Counts:
    counts: Counts = defaultdict(dict)
    for step in (_contacts, _assigned, _quality, _questionnaires, _complaints, _saves):
        step(session, counts, start, end)
    return {user: {key: row.get(key, 0.0) for key in COUNTS} for user, row in counts.items()}


def agent_counts(session: Session, start: datetime, end: datetime, *, reuse: bool = True) -> Counts:
    """Every count of :data:`COUNTS` per user id for the month [start, end); with ``reuse``
    the counts of the same database and month made less than :data:`LIVE_SECONDS` ago (a
    large centre's month takes about a second to count)."""
    if not reuse:
        return _count_all(session, start, end)
    key = (str(session.get_bind().engine.url), start, end)
    return _live.get_or_compute(key, lambda: _count_all(session, start, end))
