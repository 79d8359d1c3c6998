"""The data-scope rules: which rows a caller may see, as clauses added to every query.

One place for the rules every domain applies (ADR 0003): the users whose work the actor sees
(:func:`user_scope_clause`), the tasks (:func:`task_scope_clause`), the customers
(:func:`subscriber_scope_clause`, :func:`customer_scope_clause`) and the SMS messages
(:func:`message_scope_clause`). Part of the shared ground of ``ops``: it reads the tables and
the actor, and imports no domain's services (docs/decisions/0010-ops-domains.md).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, exists, false, or_, select, true

from weiwan.ops.customers.models import CustomerView
from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import User
from weiwan.ops.org.roles import Scope
from weiwan.ops.sms.models import SmsMessage
from weiwan.ops.tasks.models import CustomerAssignment, Task


def user_scope_clause(
    actor: Actor, user_id_column: SQLColumnExpression[Any]
) -> ColumnElement[bool]:
    """Rows owned by a user the actor may see the work of: self (own), the team (team),
    the users of visible branches (branch), everyone (all)."""
    scope = actor.scope
    if scope is Scope.ALL:
        return true()
    if scope is Scope.OWN:
        return user_id_column == actor.user_id
    if scope is Scope.TEAM:
        if actor.team_id is None:
            return user_id_column == actor.user_id
        team = select(User.id).where(User.team_id == actor.team_id)
        return or_(user_id_column == actor.user_id, user_id_column.in_(team))
    branch_users = select(User.id).where(User.branch_id.in_(actor.branch_ids))
    return user_id_column.in_(branch_users) if actor.branch_ids else false()


def colleague_clause(actor: Actor, user_id_column: SQLColumnExpression[Any]) -> ColumnElement[bool]:
    """Users the actor may hand a task to by name: whose work the actor sees, and, for an
    agent who sees only their own work, the colleagues of their team (their branch when they
    are in no team) — an agent passes a customer to the teammate who knows them."""
    if actor.scope is not Scope.OWN:
        return user_scope_clause(actor, user_id_column)
    if actor.team_id is not None:
        return user_id_column.in_(select(User.id).where(User.team_id == actor.team_id))
    return user_id_column.in_(select(User.id).where(User.branch_id == actor.branch_id))


def task_scope_clause(actor: Actor) -> ColumnElement[bool]:
    """Tasks the actor may see: assigned within their user scope, or waiting in the queue of a
    branch they belong to (agents and shift leads) or see (branch roles)."""
    if actor.scope is Scope.ALL:
        return true()
    assigned = and_(Task.assignee_id.is_not(None), user_scope_clause(actor, Task.assignee_id))
    queue_branches = (
        actor.branch_ids if actor.scope is Scope.BRANCH else frozenset({actor.branch_id})
    )
    queued = and_(Task.assignee_id.is_(None), Task.branch_id.in_(queue_branches))
    if actor.scope is Scope.BRANCH:
        return or_(Task.branch_id.in_(actor.branch_ids), assigned)
    return or_(assigned, queued)


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


def message_scope_clause(actor: Actor) -> ColumnElement[bool]:
    """Messages the actor may list: all (director, analyst, admin), the branches' (branch
    roles), else those sent by users whose work the actor sees (agents: their own)."""
    if actor.scope is Scope.ALL:
        return true()
    if actor.scope is Scope.BRANCH:
        return SmsMessage.branch_id.in_(actor.branch_ids)
    return user_scope_clause(actor, SmsMessage.created_by)
