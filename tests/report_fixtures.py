"""Rows for the dashboards' tests: published figures of September and October 2026 for the
city (HZ) and the other branch (NB), low survey scores, and this month's contacts, return
visits and a running campaign (see tests/ops/reports/test_reports.py for the expected figures)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine

from customer_fixtures import customer, publish_customers
from weiwan.core.db import session_scope
from weiwan.ops.base import utcnow
from weiwan.ops.campaigns.models import Campaign, CampaignMember
from weiwan.ops.contacts.models import Acceptance, Contact, ContactOutcome
from weiwan.ops.reports.models import DissatisfiedCustomer, PublishedMetric
from weiwan.ops.surveys.models import Questionnaire, SurveyResponse
from weiwan.ops.tasks.models import CustomerAssignment, Task

SEPT, OCT = date(2026, 9, 1), date(2026, 10, 1)
SNAPSHOT = date(2026, 10, 31)


def _metric(
    metric: str,
    period: date,
    member: str,
    branch: tuple[str, int] | None,
    numerator: float | None,
    denominator: float | None,
    *,
    dimension: str = "total",
    value: float | None = None,
) -> PublishedMetric:
    return PublishedMetric(
        snapshot_date=SNAPSHOT,
        metric=metric,
        period=period,
        dimension=dimension,
        member=member,
        branch_code=branch[0] if branch else None,
        branch_id=branch[1] if branch else None,
        value=value if value is not None else (numerator or 0) / (denominator or 1),
        numerator=numerator,
        denominator=denominator,
    )


def published(branches: dict[str, int]) -> list[PublishedMetric]:
    """The published figures (numerator, denominator per branch)."""
    hz, nb = ("HZ", branches["city"]), ("NB", branches["other"])
    return [
        _metric("churn_rate", SEPT, "all", hz, 10, 1000),
        _metric("churn_rate", SEPT, "all", nb, 30, 1000),
        _metric("churn_rate", OCT, "all", hz, 12, 1000),
        _metric("churn_rate", OCT, "all", nb, 20, 1000),
        _metric("churn_rate", OCT, "X", hz, 8, 600, dimension="brand"),
        _metric("churn_rate", OCT, "Y", hz, 4, 400, dimension="brand"),
        _metric("churn_rate", OCT, "X", nb, 20, 1000, dimension="brand"),
        _metric("satisfaction_rate", SEPT, "all", hz, 80, 100),
        _metric("satisfaction_rate", SEPT, "all", nb, 50, 100),
        _metric("satisfaction_rate", OCT, "all", hz, 90, 100),
        _metric("satisfaction_rate", OCT, "all", nb, 50, 100),
        _metric("dissatisfaction_rate", SEPT, "all", hz, 20, 100),
        _metric("dissatisfaction_rate", OCT, "all", hz, 10, 100),
        _metric("complaint_rate", SEPT, "all", hz, 5, 1000),
        _metric("complaint_rate", OCT, "all", hz, 5, 1000),
        _metric("churn_reason", OCT, "price", hz, 3, 12, dimension="reason"),
        _metric("churn_reason", OCT, "relocation", hz, 9, 12, dimension="reason"),
        _metric("churn_reason", OCT, "price", nb, 20, 20, dimension="reason"),
        _metric("churn_reason", OCT, "relocation", nb, 0, 20, dimension="reason"),
        _metric("churn_cost", OCT, "direct", hz, 1200, 12, dimension="cost"),
        _metric("model_auc", SEPT, "v0001", None, 40, 1000, dimension="realised", value=0.71),
        _metric("psi", OCT, "score", None, None, None, dimension="feature", value=0.05),
        _metric("psi", OCT, "arpu_1m", None, None, None, dimension="feature", value=0.3),
    ]


def _call(session: Any, sid: str, user: int, *outcomes: str, **extra: Any) -> Contact:
    contact = Contact(
        subscriber_id=sid, at=utcnow(), channel="outbound_call", status="sent", user_id=user,
        **extra,
    )  # fmt: skip
    session.add(contact)
    session.flush()
    for outcome in outcomes:
        session.add(ContactOutcome(contact_id=contact.id, outcome=outcome))
    return contact


def _accept(session: Any, contact: Contact) -> None:
    session.add(
        Acceptance(
            subscriber_id=contact.subscriber_id,
            policy_id=f"p{contact.id}",
            contact_id=contact.id,
            channel=contact.channel,
            user_id=contact.user_id,
        )
    )


def seed(engine: Engine, branches: dict[str, int], people: dict[str, int]) -> None:
    """Everything in the module doc."""
    publish_customers(engine, branches["city"], 2)  # S00001, S00002
    agent, outsider = people["agent"], people["outsider"]
    with session_scope(engine) as session:
        session.add(customer("S00003", branches["other"], branch_code="NB"))
        session.add_all(published(branches))
        for sid, branch, code, score in (
            ("S00001", branches["city"], "HZ", 3),
            ("S00003", branches["other"], "NB", 5),
        ):
            session.add(
                DissatisfiedCustomer(
                    snapshot_date=SNAPSHOT,
                    subscriber_id=sid,
                    branch_code=code,
                    branch_id=branch,
                    survey_time=utcnow(),
                    touchpoint="store",
                    score=score,
                )
            )
        # the agent: four retention calls, three reached, one accepted
        _accept(session, _call(session, "S00001", agent, "connected", "accepted"))
        _call(session, "S00001", agent, "refused")
        _call(session, "S00002", agent, "connected")
        _call(session, "S00002", agent, "not_reached")
        # the outsider (other branch): two calls, both accepted
        for _ in range(2):
            _accept(session, _call(session, "S00003", outsider, "accepted"))
        # two new-subscriber tasks; the return visit of S00001 is reached and answered
        visits = [
            Task(subscriber_id=sid, source="arrival", origin=f"arrival:{sid}",
                 channel="outbound_call", branch_id=branches["city"], assignee_id=agent)
            for sid in ("S00001", "S00002")
        ]  # fmt: skip
        session.add_all(visits)
        session.flush()
        # S00001 and S00004 arrived and got the agent as outbound manager a minute ago
        for sid in ("S00001", "S00004"):
            session.add(
                CustomerAssignment(
                    subscriber_id=sid,
                    kind="outbound_manager",
                    user_id=agent,
                    assigned_at=utcnow() - timedelta(minutes=1),
                )
            )
        visit = _call(session, "S00001", agent, "connected", task_id=visits[0].id)
        questionnaire = Questionnaire(title_zh="新入网回访")
        session.add(questionnaire)
        session.flush()
        session.add(
            SurveyResponse(
                questionnaire_id=questionnaire.id,
                contact_id=visit.id,
                subscriber_id="S00001",
                user_id=agent,
                complete=True,
            )
        )
        # a running campaign: two treated members, one reached by SMS
        campaign = Campaign(
            name="十月关怀",
            branch_id=branches["city"],
            status="running",
            target_filter="{}",
            policy_ids="[]",
            channels='["sms"]',
            holdout_share=0.1,
            created_by=people["director"],
            started_at=utcnow(),
        )
        session.add(campaign)
        session.flush()
        for sid, arm in (("S00001", "treated"), ("S00002", "treated"), ("S00003", "holdout")):
            session.add(
                CampaignMember(
                    campaign_id=campaign.id, subscriber_id=sid, arm=arm, branch_id=branches["city"]
                )
            )
        session.add(
            Contact(
                subscriber_id="S00001",
                at=utcnow(),
                channel="sms",
                status="sent",
                campaign_id=campaign.id,
            )
        )
