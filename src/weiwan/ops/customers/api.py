"""Routes: the unified customer view by id, the screen-pop by phone number, customer lists."""

from __future__ import annotations

from dataclasses import fields
from datetime import date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.ops.customers.card import CustomerCard, customer_card
from weiwan.ops.customers.limits import lookup_budget, too_many
from weiwan.ops.customers.lookups import (
    LookupLimitError,
    audit_list,
    check_lookup_rate,
    lookup_by_id,
    lookup_by_phone,
)
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.customers.schemas import CustomerCardOut, CustomerRow
from weiwan.ops.deps import CurrentActor, Db, LocalTz, as_actor
from weiwan.ops.org.access import Actor
from weiwan.ops.org.service import mask_phone
from weiwan.ops.scope import customer_scope_clause
from weiwan.ops.types import MAX_ID

router = APIRouter(tags=["customers"])


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


@router.get("/customers/{subscriber_id}", response_model=CustomerCardOut)
async def customer(
    subscriber_id: str,
    request: Request,
    tz: LocalTz,
    channel: Annotated[ViewChannel, Query()] = "workbench",
) -> Response:
    """The unified view of one customer in the caller's scope (audited)."""

    budget = lookup_budget(request)

    def card(db: Session, actor: Actor) -> Response:
        try:
            row = lookup_by_id(
                db, actor, subscriber_id, channel=channel, limit=budget.limit, now=budget.now
            )
        except LookupLimitError as exc:
            raise too_many(exc) from exc
        return _card_response(customer_card(db, actor, row, channel=channel, today=_today(tz)))

    return await as_actor(request, card)  # a hot route: one thread hop


@router.get("/screen-pop", response_model=CustomerCardOut)
async def screen_pop(
    request: Request,
    tz: LocalTz,
    phone: Annotated[str, Query(min_length=5, max_length=20, pattern=r"^\+?[0-9]+$")],
    channel: Annotated[Literal["hotline", "store"], Query()] = "hotline",
) -> Response:
    """Store and hotline screen-pop: the unified view of the caller with this number."""

    budget = lookup_budget(request)

    def card(db: Session, actor: Actor) -> Response:
        try:
            row = lookup_by_phone(
                db, actor, phone, channel=channel, limit=budget.limit, now=budget.now
            )
        except LookupLimitError as exc:
            raise too_many(exc) from exc
        return _card_response(customer_card(db, actor, row, channel=channel, today=_today(tz)))

    return await as_actor(request, card)  # the hottest route: one thread hop


@router.get("/customers", response_model=list[CustomerRow])
def customers(
    request: Request,
    actor: CurrentActor,
    db: Db,
    risk_band: Annotated[str | None, Query(max_length=16)] = None,
    value_tier: Annotated[str | None, Query(max_length=32)] = None,
    branch_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[CustomerRow]:
    """Customers in scope, highest churn risk first (a lookup: rate limited and audited)."""
    budget = lookup_budget(request)
    try:
        check_lookup_rate(db, actor, limit=budget.limit, now=budget.now)
    except LookupLimitError as exc:
        raise too_many(exc) from exc
    query = select(CustomerView).where(customer_scope_clause(actor))
    if risk_band is not None:
        query = query.where(CustomerView.risk_band == risk_band)
    if value_tier is not None:
        query = query.where(CustomerView.value_tier == value_tier)
    if branch_id is not None:
        query = query.where(CustomerView.branch_id == branch_id)
    query = query.order_by(
        CustomerView.churn_probability.desc().nulls_last(), CustomerView.subscriber_id
    )
    rows = [
        CustomerRow(
            subscriber_id=c.subscriber_id,
            name=c.name,
            msisdn=mask_phone(c.msisdn, actor.role),
            branch_code=c.branch_code,
            value_tier=c.value_tier,
            lifecycle_stage=c.lifecycle_stage,
            churn_probability=c.churn_probability,
            risk_band=c.risk_band,
        )
        for c in db.scalars(query.limit(limit).offset(offset))
    ]
    filters = {"risk_band": risk_band, "value_tier": value_tier, "branch_id": branch_id}
    audit_list(db, actor, rows=len(rows), filters={**filters, "offset": offset})
    return rows
