"""Routes: the policy library, self-service offers of a subscriber and ordering one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from weiwan.core.errors import InvalidRequestError
from weiwan.ops.base import utcnow
from weiwan.ops.contacts.orders import order_offer
from weiwan.ops.customers.lookups import audit_view, lookup_by_id
from weiwan.ops.customers.service import find_customer
from weiwan.ops.deps import CurrentActor, Db, LocalTz
from weiwan.ops.offers import service
from weiwan.ops.offers.models import PublishedPolicy
from weiwan.ops.offers.schemas import OrderIn, OrderOut, PolicyOut
from weiwan.ops.offers.service import SELF_SERVICE

router = APIRouter(tags=["offers"])


@router.get("/policies", response_model=list[PolicyOut])
def policies(
    actor: CurrentActor, db: Db, tz: LocalTz, valid_today: Annotated[bool, Query()] = False
) -> list[PublishedPolicy]:
    """The published policy library."""
    today = datetime.now(tz).date() if valid_today else None
    return list(service.list_policies(db, valid_on=today))


@router.get("/self-service/{subscriber_id}/offers", response_model=list[PolicyOut])
def offers(subscriber_id: str, actor: CurrentActor, db: Db, tz: LocalTz) -> list[PublishedPolicy]:
    """The offers a subscriber may order in self-service today. A customer lookup, audited
    (misses too) but not rate limited: the operator's portal calls it for every visitor with
    one service account, and the answer holds no contact data."""
    customer = lookup_by_id(
        db, actor, subscriber_id, channel=SELF_SERVICE, limit=None, now=utcnow()
    )
    audit_view(db, actor, customer, channel=SELF_SERVICE)
    return list(service.self_service_offers(db, customer, datetime.now(tz).date()))


@router.post(
    "/self-service/{subscriber_id}/orders",
    response_model=OrderOut,
    status_code=201,
    responses={409: {"description": "already accepted in another channel"}},
)
def order(subscriber_id: str, body: OrderIn, actor: CurrentActor, db: Db, tz: LocalTz) -> OrderOut:
    """Order one self-service offer: an accepted contact in the self-service channel, closing
    the subscriber's other open tasks for that policy."""
    customer = find_customer(db, actor, subscriber_id)
    record = order_offer(db, actor, customer, body.policy_id, tz=tz)
    if record.acceptance is None:  # blocked by the self-service channel's own rules
        raise InvalidRequestError(f"not possible now: {record.verdict.reason}", field="policy_id")
    return OrderOut(
        acceptance_id=record.acceptance.id,
        contact_id=record.contact.id,
        closed_task_ids=record.closed_task_ids,
    )
