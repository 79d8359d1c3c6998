"""The unified customer view (统一视图): the same card in every channel, within the caller's scope.

Scope: agents see the customers they manage or hold a task for, shift leads their team's,
branch roles their branches' customers, director/analyst/admin everyone. A customer outside
the scope is answered exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, exists, or_, select, true
from sqlalchemy.orm import Session

from weiwan.core.errors import NotFoundError
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.org.access import Actor, user_scope_clause
from weiwan.ops.org.roles import Scope
from weiwan.ops.tasks.models import CustomerAssignment, Task


def subscriber_scope_clause(
    actor: Actor, subscriber_id: SQLColumnExpression[Any], branch_id: SQLColumnExpression[Any]
) -> ColumnElement[bool]:
    """Rows about a subscriber (``subscriber_id``, ``branch_id`` columns of any table) that the
    actor may see by the customer scope: everyone (all), the visible branches' (branch), or
    the subscribers a user of the own or team scope manages or holds a task for."""
    if actor.scope is Scope.ALL:
        return true()
    if actor.scope is Scope.BRANCH:
        return branch_id.in_(actor.branch_ids)
    managed = exists().where(
        CustomerAssignment.subscriber_id == subscriber_id,
        user_scope_clause(actor, CustomerAssignment.user_id),
    )
    tasked = exists().where(
        Task.subscriber_id == subscriber_id,
        Task.assignee_id.is_not(None),
        user_scope_clause(actor, Task.assignee_id),
    )
    return or_(managed, tasked)


def customer_scope_clause(actor: Actor) -> ColumnElement[bool]:
    """Customers (rows of ``customer_view``) the actor may see."""
    return subscriber_scope_clause(actor, CustomerView.subscriber_id, CustomerView.branch_id)


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
