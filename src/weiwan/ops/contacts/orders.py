"""Ordering a self-service offer (特惠专区): an accepted contact in the self-service channel,
closing the subscriber's other open tasks for the policy — one rule for the API
(``POST /api/v1/self-service/{id}/orders``) and the self-service page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.core.errors import ConflictError, InvalidRequestError
from weiwan.ops.contacts.models import Acceptance
from weiwan.ops.contacts.records import CallRecord
from weiwan.ops.contacts.schemas import CallIn, OutcomeIn
from weiwan.ops.contacts.service import record_call
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.offers.models import PublishedPolicy
from weiwan.ops.offers.service import SELF_SERVICE, self_service_offers
from weiwan.ops.org.access import Actor
from weiwan.ops.org.roles import Role


class NotOfferedError(InvalidRequestError):
    """The policy is not among the subscriber's self-service offers today."""


#: the channel a member of staff takes an order in, by role (others: self-service)
ROLE_CHANNELS = {
    Role.STORE_CLERK: "store",
    Role.HOTLINE_AGENT: "hotline",
    Role.AGENT: "outbound_call",
}


def order_channel(actor: Actor) -> str:
    """Where an order the actor takes was made: the store for a clerk, the hotline for a
    hotline agent, the call for an outbound agent; self-service otherwise."""
    return ROLE_CHANNELS.get(actor.role, SELF_SERVICE)


def orderable_offers(
    session: Session, customer: CustomerView, today: date
) -> Sequence[PublishedPolicy]:
    """The self-service offers the customer may order today, less those they have already
    accepted in any channel (an accepted offer is withdrawn everywhere)."""
    taken = set(
        session.scalars(
            select(Acceptance.policy_id).where(
                Acceptance.subscriber_id == customer.subscriber_id, Acceptance.status == "active"
            )
        )
    )
    return [p for p in self_service_offers(session, customer, today) if p.policy_id not in taken]


def order_offer(
    session: Session,
    actor: Actor,
    customer: CustomerView,
    policy_id: str,
    *,
    tz: ZoneInfo,
    channel: str | None = None,
) -> CallRecord:
    """Order ``policy_id`` for ``customer`` (in the actor's scope) if it is offered to them in
    self-service today (:class:`NotOfferedError` otherwise), recorded in ``channel`` (default:
    :func:`order_channel`). The customer ordered: the order is recorded whatever the contact
    rules say (they govern the outreach to the customer), and it closes the customer's open
    tasks for the offer in every channel."""
    today = datetime.now(tz).date()
    taken = session.scalar(
        select(Acceptance.channel).where(
            Acceptance.subscriber_id == customer.subscriber_id,
            Acceptance.policy_id == policy_id,
            Acceptance.status == "active",
        )
    )
    if taken is not None:  # withdrawn from the offers: say why rather than "not offered"
        raise ConflictError(f"already accepted in {taken}")
    if policy_id not in {p.policy_id for p in self_service_offers(session, customer, today)}:
        raise NotOfferedError(
            f"policy {policy_id!r} is not offered to this subscriber in self-service",
            field="policy_id",
        )
    return record_call(
        session,
        actor,
        CallIn(
            subscriber_id=customer.subscriber_id,
            channel=channel or order_channel(actor),
            policy_id=policy_id,
            outcomes=[OutcomeIn(outcome="accepted", policy_id=policy_id)],
        ),
        tz=tz,
    )
