"""The unified customer view (统一视图): the same card in every channel, within the caller's scope.

Scope: agents see the customers they manage or hold a task for, shift leads their team's,
branch roles their branches' customers, director/analyst/admin everyone. A customer outside
the scope is answered exactly like a missing one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, exists, or_, select, true
from sqlalchemy.orm import Session

from weiwan.core.errors import NotFoundError
from weiwan.ops.contacts.models import Acceptance, Contact, ContactOutcome, DoNotDisturb
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.offers.models import PublishedPolicy
from weiwan.ops.org.access import Actor, user_scope_clause
from weiwan.ops.org.models import User
from weiwan.ops.org.roles import Scope
from weiwan.ops.org.service import AuditAction, audit, mask_id_number, mask_phone
from weiwan.ops.tasks.models import CustomerAssignment, Task

HISTORY_LIMIT = 20


def customer_scope_clause(actor: Actor) -> ColumnElement[bool]:
    """Customers (rows of ``customer_view``) the actor may see."""
    if actor.scope is Scope.ALL:
        return true()
    if actor.scope is Scope.BRANCH:
        return CustomerView.branch_id.in_(actor.branch_ids)
    managed = exists().where(
        CustomerAssignment.subscriber_id == CustomerView.subscriber_id,
        user_scope_clause(actor, CustomerAssignment.user_id),
    )
    tasked = exists().where(
        Task.subscriber_id == CustomerView.subscriber_id,
        Task.assignee_id.is_not(None),
        user_scope_clause(actor, Task.assignee_id),
    )
    return or_(managed, tasked)


def find_customer(session: Session, actor: Actor, subscriber_id: str) -> CustomerView:
    """The customer row if it exists and is in scope (404 otherwise)."""
    row = session.scalar(
        select(CustomerView).where(
            CustomerView.subscriber_id == subscriber_id, customer_scope_clause(actor)
        )
    )
    if row is None:
        raise NotFoundError(f"customer {subscriber_id} not found")
    return row


def find_by_phone(session: Session, actor: Actor, msisdn: str) -> CustomerView:
    """The customer with phone number ``msisdn`` in scope (screen-pop; 404 otherwise)."""
    row = session.scalar(
        select(CustomerView)
        .where(CustomerView.msisdn == msisdn.strip(), customer_scope_clause(actor))
        .limit(1)
    )
    if row is None:
        raise NotFoundError("no customer with this number in your scope")
    return row


def spaced_ids(value: str | None) -> list[str]:
    """`` a b `` → ``["a", "b"]`` (the published list format)."""
    return value.split() if value else []


@dataclass(frozen=True, slots=True)
class CustomerCard:
    """Everything a channel shows about one customer (see :func:`customer_card`)."""

    customer: dict[str, Any]
    reasons: list[dict[str, Any]]
    tags: list[str]
    policies: list[dict[str, Any]]
    open_tasks: list[dict[str, Any]]
    contacts: list[dict[str, Any]]
    acceptances: list[dict[str, Any]]
    managers: dict[str, str]
    do_not_disturb: list[str]


_CUSTOMER_FIELDS = (
    "subscriber_id",
    "snapshot_date",
    "customer_id",
    "gender",
    "age",
    "region",
    "branch_code",
    "branch_id",
    "brand",
    "payment_type",
    "plan_id",
    "plan_monthly_fee",
    "join_date",
    "tenure_months",
    "contract_end_date",
    "status",
    "star_level",
    "arpu_1m",
    "value_tier",
    "lifecycle_stage",
    "clv_quadrant",
    "future_value",
    "churn_probability",
    "risk_band",
    "model_version",
)


def _policies(session: Session, ids: Sequence[str], today: date) -> list[dict[str, Any]]:
    if not ids:
        return []
    rows = session.scalars(
        select(PublishedPolicy)
        .where(
            PublishedPolicy.policy_id.in_(ids),
            PublishedPolicy.valid_from <= today,
            PublishedPolicy.valid_to >= today,
        )
        .order_by(PublishedPolicy.policy_id)
    )
    return [
        {
            "policy_id": p.policy_id,
            "name_zh": p.name_zh,
            "name_en": p.name_en,
            "offer_type": p.offer_type,
            "channels": p.channels.split(),
            "script_zh": p.script_zh,
            "script_en": p.script_en,
            "total_cost": p.total_cost,
            "valid_to": p.valid_to.isoformat(),
        }
        for p in rows
    ]


def _history(session: Session, subscriber_id: str) -> list[dict[str, Any]]:
    contacts = session.execute(
        select(Contact, User.display_name)
        .outerjoin(User, User.id == Contact.user_id)
        .where(Contact.subscriber_id == subscriber_id)
        .order_by(Contact.at.desc(), Contact.id.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    ids = [c.id for c, _ in contacts]
    outcomes: dict[int, list[dict[str, Any]]] = {}
    if ids:
        for o in session.scalars(
            select(ContactOutcome)
            .where(ContactOutcome.contact_id.in_(ids))
            .order_by(ContactOutcome.id)
        ):
            outcomes.setdefault(o.contact_id, []).append(
                {
                    "outcome": o.outcome,
                    "refusal_reason": o.refusal_reason,
                    "call_back_at": o.call_back_at.isoformat() if o.call_back_at else None,
                    "policy_id": o.policy_id,
                }
            )
    return [
        {
            "contact_id": c.id,
            "at": c.at.isoformat(),
            "channel": c.channel,
            "status": c.status,
            "blocked_reason": c.blocked_reason,
            "by": name,
            "task_id": c.task_id,
            "policy_id": c.policy_id,
            "note": c.note,
            "outcomes": outcomes.get(c.id, []),
        }
        for c, name in contacts
    ]


def customer_card(
    session: Session, actor: Actor, customer: CustomerView, *, channel: str, today: date
) -> CustomerCard:
    """The unified view of ``customer``; phone and ID masked unless the role may see them.

    Every view is audited (``pii_view``, with the channel) since the card shows personal data.
    """
    may_see = actor.permissions.may_see_full_numbers
    data = {name: getattr(customer, name) for name in _CUSTOMER_FIELDS}
    data["name"] = customer.name
    data["msisdn"] = mask_phone(customer.msisdn, actor.role)
    data["id_number"] = (
        mask_id_number(customer.id_number, actor.role) if customer.id_number else None
    )
    audit(
        session,
        actor.user_id,
        AuditAction.PII_VIEW,
        "customer",
        customer.subscriber_id,
        {"channel": channel, "full_numbers": may_see},
    )
    tasks = session.execute(
        select(Task, User.display_name)
        .outerjoin(User, User.id == Task.assignee_id)
        .where(Task.subscriber_id == customer.subscriber_id, Task.status == "open")
        .order_by(Task.due_at.asc().nulls_last(), Task.id)
    ).all()
    managers = dict(
        session.execute(
            select(CustomerAssignment.kind, User.display_name)
            .join(User, User.id == CustomerAssignment.user_id)
            .where(CustomerAssignment.subscriber_id == customer.subscriber_id)
        ).all()
    )
    accepted = session.scalars(
        select(Acceptance)
        .where(Acceptance.subscriber_id == customer.subscriber_id)
        .order_by(Acceptance.at.desc())
    ).all()
    return CustomerCard(
        customer=data,
        reasons=json.loads(customer.reasons) if customer.reasons else [],
        tags=spaced_ids(customer.tags),
        policies=_policies(session, spaced_ids(customer.eligible_policies), today),
        open_tasks=[
            {
                "task_id": t.id,
                "channel": t.channel,
                "source": t.source,
                "campaign_id": t.campaign_id,
                "policy_id": t.policy_id,
                "assignee": name,
                "due_at": t.due_at.isoformat() if t.due_at else None,
                "title_zh": t.title_zh,
                "title_en": t.title_en,
            }
            for t, name in tasks
        ],
        contacts=_history(session, customer.subscriber_id),
        acceptances=[
            {
                "policy_id": a.policy_id,
                "channel": a.channel,
                "at": a.at.isoformat(),
                "status": a.status,
                "campaign_id": a.campaign_id,
            }
            for a in accepted
        ],
        managers=managers,
        do_not_disturb=list(
            session.scalars(
                select(DoNotDisturb.channel)
                .where(DoNotDisturb.subscriber_id == customer.subscriber_id)
                .order_by(DoNotDisturb.channel)
            )
        ),
    )
