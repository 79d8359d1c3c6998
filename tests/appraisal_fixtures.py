"""A small appraisal month for the scorecard tests: contacts of three agents with their
outcomes, acceptances, quality inspections and questionnaire answers, a campaign with a hold-out,
done tasks, managed customers and their complaints, all in the previous local month (so it can
be closed). The tests compute the expected figures from :data:`CONTACTS` and the other
constants here, never from the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from customer_fixtures import customer
from weiwan.core.db import session_scope
from weiwan.core.months import add_months
from weiwan.ops.appraisal.models import PublishedComplaint
from weiwan.ops.campaigns.models import Campaign, CampaignMember
from weiwan.ops.contacts.models import Acceptance, Contact, ContactOutcome, QualityInspection
from weiwan.ops.surveys.models import Questionnaire, SurveyResponse
from weiwan.ops.tasks.models import CustomerAssignment, Task

TZ = ZoneInfo("Asia/Shanghai")
CAMPAIGN = "campaign"


def month() -> date:
    """The fixture's month: the previous local month."""
    return add_months(datetime.now(TZ).date().replace(day=1), -1)


def moment(day: int, hour: int = 10) -> datetime:
    """A local time of the fixture's month, as UTC."""
    return datetime.combine(month().replace(day=day), time(hour), TZ).astimezone(UTC)


@dataclass(frozen=True)
class C:
    """One contact of the fixture."""

    user: str
    subscriber: str
    channel: str = "outbound_call"
    outcomes: tuple[str, ...] = ()
    accepted: bool = False
    campaign: bool = False
    answered: bool = False
    score: int | None = None
    day: int = 10


CONTACTS: tuple[C, ...] = (
    C("agent", "S00001", outcomes=("connected", "accepted"), accepted=True, score=80),
    C("agent", "S00001", outcomes=("refused",), score=90),
    C("agent", "S00002", outcomes=("not_reached",)),
    C("agent", "S00003", outcomes=("connected",)),
    C("agent", "S00002", channel="sms"),
    C("agent", "S00001", channel="sms", campaign=True, answered=True, day=12),
    C("agent", "S00002", outcomes=("connected",), campaign=True, day=13),
    C("agent2", "S00003", outcomes=("accepted",), accepted=True, campaign=True, score=60),
    C("agent2", "S00004", outcomes=("not_reached",), campaign=True),
    C("agent2", "S00003", outcomes=("not_reached",)),
    C("outsider", "S00011", outcomes=("connected",)),
)
#: treated and hold-out members of the campaign; GONE left (absent from the customer view)
TREATED = ("S00001", "S00002", "S00003", "S00004")
HOLDOUT = ("S00005", "S00006")
GONE = ("S00004", "S00006")
#: managed customers (retention manager)
MANAGED = {"S00001": "agent", "S00002": "agent", "S00003": "agent2", "S00011": "outsider"}
#: complaints (subscriber, day of the month; None: the month before)
COMPLAINTS = (("S00001", 3), ("S00001", 20), ("S00001", None), ("S00003", 5), ("S00007", 6))
#: done tasks (assignee, subscriber) closed in the month, and one still open
DONE_TASKS = (("agent", "S00001"), ("agent", "S00002"), ("agent", "S00002"), ("agent2", "S00003"))


def seed(engine: Engine, branches: dict[str, int], people: dict[str, int]) -> None:
    """Write the fixture (see the module doc)."""
    city, other = branches["city"], branches["other"]
    with session_scope(engine) as session:
        for n in range(1, 11):
            sid = f"S{n:05d}"
            if sid not in GONE:
                session.add(customer(sid, city))
        session.add(customer("S00011", other, branch_code="NB"))
        questionnaire = Questionnaire(title_zh="回访")
        session.add(questionnaire)
        session.flush()
        campaign = Campaign(
            name="挽留",
            branch_id=city,
            status="running",
            target_filter="{}",
            policy_ids="[]",
            channels='["sms", "outbound_call"]',
            holdout_share=0.3,
            questionnaire_id=questionnaire.id,
            created_by=people["director"],
            started_at=moment(1),
        )
        session.add(campaign)
        session.flush()
        for sid in TREATED + HOLDOUT:
            arm = "treated" if sid in TREATED else "holdout"
            session.add(
                CampaignMember(campaign_id=campaign.id, subscriber_id=sid, arm=arm, branch_id=city)
            )
        for index, spec in enumerate(CONTACTS):
            contact = Contact(
                subscriber_id=spec.subscriber,
                at=moment(spec.day) + timedelta(minutes=index),
                channel=spec.channel,
                status="sent",
                user_id=people[spec.user],
                campaign_id=campaign.id if spec.campaign else None,
            )
            session.add(contact)
            session.flush()
            for outcome in spec.outcomes:
                session.add(ContactOutcome(contact_id=contact.id, outcome=outcome))
            if spec.accepted:
                session.add(
                    Acceptance(
                        subscriber_id=spec.subscriber,
                        policy_id=f"p{contact.id}",
                        contact_id=contact.id,
                        channel=spec.channel,
                        user_id=people[spec.user],
                        at=contact.at,
                        campaign_id=contact.campaign_id,
                    )
                )
            if spec.score is not None:
                session.add(
                    QualityInspection(
                        contact_id=contact.id,
                        inspector_id=people["lead"],
                        at=contact.at + timedelta(hours=2),
                        score=spec.score,
                    )
                )
            if spec.answered:
                session.add(
                    SurveyResponse(
                        questionnaire_id=questionnaire.id,
                        contact_id=contact.id,
                        subscriber_id=spec.subscriber,
                        user_id=people[spec.user],
                        complete=True,
                    )
                )
        # a contact blocked by the contact policy never counts
        session.add(
            Contact(
                subscriber_id="S00001",
                at=moment(11),
                channel="outbound_call",
                status="blocked",
                blocked_reason="quiet_hours",
                user_id=people["agent"],
            )
        )
        for sid, username in MANAGED.items():
            session.add(
                CustomerAssignment(
                    subscriber_id=sid, kind="retention_manager", user_id=people[username]
                )
            )
        for index, (sid, day) in enumerate(COMPLAINTS):
            at = moment(day) if day is not None else moment(15) - timedelta(days=31)
            session.add(
                PublishedComplaint(
                    complaint_id=f"K{index}",
                    subscriber_id=sid,
                    at=at,
                    category="network",
                    severity="low",
                    branch_code="HZ",
                    branch_id=city,
                )
            )
        for index, (username, sid) in enumerate((*DONE_TASKS, ("agent", "S00003"))):
            done = index < len(DONE_TASKS)
            session.add(
                Task(
                    subscriber_id=sid,
                    source="manual",
                    origin=f"fixture:{index}",
                    channel="outbound_call",
                    branch_id=city,
                    assignee_id=people[username],
                    status="done" if done else "open",
                    closed_at=moment(18) if done else None,
                )
            )
