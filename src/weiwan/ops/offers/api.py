"""Routes: the policy library (a subscriber's self-service offers and ordering one are in
``contacts/api.py``: an order is an accepted contact, and an accepted offer is withdrawn)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from weiwan.ops.deps import CurrentActor, Db, LocalTz
from weiwan.ops.offers import service
from weiwan.ops.offers.models import PublishedPolicy
from weiwan.ops.offers.schemas import PolicyOut

router = APIRouter(tags=["offers"])


@router.get("/policies", response_model=list[PolicyOut])
def policies(
    actor: CurrentActor, db: Db, tz: LocalTz, valid_today: Annotated[bool, Query()] = False
) -> list[PublishedPolicy]:
    """The published policy library."""
    today = datetime.now(tz).date() if valid_today else None
    return list(service.list_policies(db, valid_on=today))
