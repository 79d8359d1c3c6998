"""Routes: customer lists (the card by id and the screen-pop: ``card/api.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from weiwan.ops.customers.limits import lookup_budget, too_many
from weiwan.ops.customers.lookups import (
    LookupLimitError,
    lookup_list,
)
from weiwan.ops.customers.schemas import CustomerRow
from weiwan.ops.deps import CurrentActor, Db
from weiwan.ops.types import MAX_ID

router = APIRouter(tags=["customers"])


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
        return lookup_list(
            db,
            actor,
            risk_band=risk_band,
            value_tier=value_tier,
            branch_id=branch_id,
            limit=limit,
            offset=offset,
            rate_limit=budget.limit,
            now=budget.now,
        )
    except LookupLimitError as exc:
        raise too_many(exc) from exc
