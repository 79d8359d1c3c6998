"""Routes: the policy library and the self-service offers of a subscriber (ordering one is an
accepted contact: ``contacts/api.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from weiwan.ops.base import utcnow
from weiwan.ops.customers.lookups import audit_view, lookup_by_id
from weiwan.ops.deps import CurrentActor, Db, LocalTz
from weiwan.ops.offers import service
from weiwan.ops.offers.models import PublishedPolicy
from weiwan.ops.offers.schemas import PolicyOut
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
