"""Routes: the unified customer view (the card) by id, the screen-pop by phone number."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from weiwan.ops.card.service import CustomerCard, customer_card
from weiwan.ops.customers.limits import LookupBudget, lookup_budget, too_many
from weiwan.ops.customers.lookups import LookupLimitError, lookup_by_id, lookup_by_phone
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.customers.schemas import CustomerCardOut
from weiwan.ops.deps import LocalTz, as_actor
from weiwan.ops.org.access import Actor

router = APIRouter(tags=["customers"])  # documented with the customers' routes, as before


def _today(tz: ZoneInfo) -> date:
    return datetime.now(tz).date()


def _card_response(card: CustomerCard) -> Response:
    """The card serialised once (the screen-pop is the hottest route: no second validation
    of what the service just built; ``response_model`` still documents it)."""
    body = CustomerCardOut.model_construct(
        **{f.name: getattr(card, f.name) for f in fields(card)}
    ).model_dump_json()
    return Response(body, media_type="application/json")


ViewChannel = Literal["workbench", "outbound_call", "store", "hotline", "self_service"]


CardLookup = Callable[[Session, Actor, LookupBudget], CustomerView]


async def _card(request: Request, tz: ZoneInfo, channel: str, lookup: CardLookup) -> Response:
    """The card of the customer ``lookup`` finds within the caller's lookup budget (429 past
    it), in one worker thread with the caller and the commit (``as_actor``: a hot route)."""
    budget = lookup_budget(request)

    def card(db: Session, actor: Actor) -> Response:
        try:
            row = lookup(db, actor, budget)
        except LookupLimitError as exc:
            raise too_many(exc) from exc
        return _card_response(customer_card(db, actor, row, channel=channel, today=_today(tz)))

    return await as_actor(request, card)


@router.get("/customers/{subscriber_id}", response_model=CustomerCardOut)
async def customer(
    subscriber_id: str,
    request: Request,
    tz: LocalTz,
    channel: Annotated[ViewChannel, Query()] = "workbench",
) -> Response:
    """The unified view of one customer in the caller's scope (audited)."""
    return await _card(
        request,
        tz,
        channel,
        lambda db, actor, budget: lookup_by_id(
            db, actor, subscriber_id, channel=channel, limit=budget.limit, now=budget.now
        ),
    )


@router.get("/screen-pop", response_model=CustomerCardOut)
async def screen_pop(
    request: Request,
    tz: LocalTz,
    phone: Annotated[str, Query(min_length=5, max_length=20, pattern=r"^\+?[0-9]+$")],
    channel: Annotated[Literal["hotline", "store"], Query()] = "hotline",
) -> Response:
    """Store and hotline screen-pop: the unified view of the caller with this number."""
    return await _card(
        request,
        tz,
        channel,
        lambda db, actor, budget: lookup_by_phone(
            db, actor, phone, channel=channel, limit=budget.limit, now=budget.now
        ),
    )
