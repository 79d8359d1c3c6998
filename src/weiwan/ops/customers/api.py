"""Routes: customer lists (the card by id and the screen-pop: ``card/api.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from weiwan.ops.customers.limits import lookup_budget, too_many
from weiwan.ops.customers.lookups import (
    LookupLimitError,
    audit_list,
    check_lookup_rate,
)
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.customers.schemas import CustomerRow
from weiwan.ops.deps import CurrentActor, Db
from weiwan.ops.org.service import mask_phone
from weiwan.ops.scope import customer_scope_clause
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
