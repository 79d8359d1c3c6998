"""Ordering a self-service offer (特惠专区): an accepted contact in the self-service channel,
closing the subscriber's other open tasks for the policy — one rule for the API
(``POST /api/v1/self-service/{id}/orders``) and the self-service page."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from weiwan.core.errors import InvalidRequestError
from weiwan.ops.contacts.records import CallRecord
from weiwan.ops.contacts.schemas import CallIn, OutcomeIn
from weiwan.ops.contacts.service import record_call
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.offers.service import SELF_SERVICE, self_service_offers
from weiwan.ops.org.access import Actor


class NotOfferedError(InvalidRequestError):
    """The policy is not among the subscriber's self-service offers today."""


def order_offer(
    session: Session, actor: Actor, customer: CustomerView, policy_id: str, *, tz: ZoneInfo
) -> CallRecord:
    """Order ``policy_id`` for ``customer`` (in the actor's scope) if it is offered to them in
    self-service today (:class:`NotOfferedError` otherwise). The customer ordered: the order
    is recorded whatever the contact rules say (they govern the outreach to the customer)."""
    today = datetime.now(tz).date()
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
            channel=SELF_SERVICE,
            policy_id=policy_id,
            outcomes=[OutcomeIn(outcome="accepted", policy_id=policy_id)],
        ),
        tz=tz,
    )
