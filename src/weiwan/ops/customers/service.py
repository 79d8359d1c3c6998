"""The unified customer view (统一视图): the same card in every channel, within the caller's scope.

Scope: agents see the customers they manage or hold a task for, shift leads their team's,
branch roles their branches' customers, director/analyst/admin everyone. A customer outside
the scope is answered exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.core.errors import NotFoundError
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.org.access import Actor
from weiwan.ops.scope import customer_scope_clause


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


def with_cards(session: Session, actor: Actor, subscriber_ids: Sequence[str]) -> set[str]:
    """Which of ``subscriber_ids`` have a card the actor may open (published in the customer
    view today, in scope): a subscriber who left or was suspended has an anomaly but no card."""
    wanted = sorted(set(subscriber_ids))
    if not wanted:
        return set()
    return set(
        session.scalars(
            select(CustomerView.subscriber_id).where(
                CustomerView.subscriber_id.in_(wanted), customer_scope_clause(actor)
            )
        )
    )


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


def list_customers(
    session: Session,
    actor: Actor,
    *,
    risk_band: str | None = None,
    value_tier: str | None = None,
    branch_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Sequence[CustomerView]:
    """Customers in scope matching the filters given, highest churn risk first."""
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
    return session.scalars(query.limit(limit).offset(offset)).all()


def spaced_ids(value: str | None) -> list[str]:
    """`` a b `` → ``["a", "b"]`` (the published list format)."""
    return value.split() if value else []
