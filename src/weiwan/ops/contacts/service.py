"""Recording contacts: contact-policy check, outcomes, acceptance and cross-channel closure.

One call of :func:`record_call` is one transaction. It first locks the subscriber (a row in
``subscriber_locks``, ``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serialises writers), so
concurrent contacts of one subscriber are checked against the caps one after the other and two
channels accepting the same policy at the same moment cannot both win: the second finds the
first's acceptance (and the partial unique index would refuse it anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from weiwan.core.contact_rules import CHANNELS, DND_ALL, ContactRules
from weiwan.core.errors import ConflictError, InvalidRequestError, NotFoundError
from weiwan.ops.base import utcnow
from weiwan.ops.contacts import record_pg
from weiwan.ops.contacts.models import (
    Acceptance,
    Contact,
    ContactOutcome,
    DoNotDisturb,
    QualityInspection,
    SubscriberLock,
)
from weiwan.ops.contacts.policy_check import SENT, Verdict, check_contact
from weiwan.ops.contacts.records import RETRY_OUTCOMES as RETRY_OUTCOMES
from weiwan.ops.contacts.records import CallRecord as CallRecord
from weiwan.ops.contacts.records import (
    Offer,
    TaskState,
    accepted_offer,
    audit_over_rule,
    check_task,
    closed_reason,
    outcome_rows,
    task_changes,
)
from weiwan.ops.contacts.rules import current_rules
from weiwan.ops.contacts.schemas import CallIn, InspectionIn
from weiwan.ops.customers.service import find_customer, spaced_ids
from weiwan.ops.org.access import Actor
from weiwan.ops.org.roles import Role
from weiwan.ops.org.service import AuditAction, audit
from weiwan.ops.scope import task_scope_clause, user_scope_clause
from weiwan.ops.tasks.models import Task

INSPECTORS = (Role.SHIFT_LEAD, Role.CENTRE_HEAD, Role.DIRECTOR)


def lock_subscriber(session: Session, subscriber_id: str) -> None:
    """Hold the subscriber's lock until the transaction ends: one upsert that creates the
    subscriber's lock row or, when it exists, updates it — which locks it on PostgreSQL (a
    second transaction waits here until the first ends); SQLite serialises writers."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(SubscriberLock).values(subscriber_id=subscriber_id)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["subscriber_id"],
            set_={"subscriber_id": statement.excluded.subscriber_id},
        )
    )


_TASK = select(
    Task.id, Task.subscriber_id, Task.status, Task.closed_reason, Task.campaign_id, Task.policy_id
)


def _task_for(session: Session, actor: Actor, body: CallIn) -> TaskState | None:
    if body.task_id is None:
        return None
    # FOR UPDATE locks on PostgreSQL; on SQLite this read comes after lock_subscriber's
    # upsert, which holds the database's write lock, so no other writer can change the task
    # before this transaction ends: safe on both.
    row = session.execute(
        _TASK.where(Task.id == body.task_id, task_scope_clause(actor)).with_for_update()
    ).first()
    if row is None:
        raise NotFoundError(f"task {body.task_id} not found")
    task = TaskState(*row)
    check_task(task, body.subscriber_id)
    return task


def record_call(
    session: Session,
    actor: Actor,
    body: CallIn,
    *,
    tz: ZoneInfo,
    rules: ContactRules | None = None,
    now: datetime | None = None,
) -> CallRecord:
    """Record a contact and its outcomes (see the module doc for the guarantees).

    The contact has taken place, so it is always recorded with its outcomes: a contact the
    contact rules advised against (a cap reached, quiet hours, do-not-disturb, a cool-off) keeps
    the rule in ``over_rule`` and is audited (``contact_over_rule``); the rules govern the
    outreach before the call (:func:`~weiwan.ops.contacts.state.contact_state`). An
    acceptance closes every other open task of the subscriber for the same policy or campaign
    and marks the task worked ``done``; refusals, wrong numbers and plain connections finish the
    task too, while ``not_reached`` and ``call_back`` leave it open (a call-back moves its due
    time).

    On PostgreSQL this takes three statements (``contacts.record_pg``); elsewhere one Core
    statement per step. Both give the same result (``tests/ops/contacts/test_contact_paths.py``).
    """
    actor.require_customer_work()
    if session.get_bind().dialect.name == "postgresql" and body.channel in CHANNELS:
        return record_pg.record_call_pg(session, actor, body, tz=tz, rules=rules, now=now)
    return record_call_generic(session, actor, body, tz=tz, rules=rules, now=now)


def record_call_generic(
    session: Session,
    actor: Actor,
    body: CallIn,
    *,
    tz: ZoneInfo,
    rules: ContactRules | None = None,
    now: datetime | None = None,
) -> CallRecord:
    """:func:`record_call` one step at a time, on any database."""
    actor.require_customer_work()
    at = body.at or now or utcnow()
    customer = find_customer(session, actor, body.subscriber_id)
    lock_subscriber(session, body.subscriber_id)
    task = _task_for(session, actor, body)
    campaign_id = body.campaign_id
    if campaign_id is None and task is not None:
        campaign_id = task.campaign_id
    default_policy = body.policy_id or (task.policy_id if task else None)
    verdict = check_contact(
        session, rules or current_rules(session), body.subscriber_id, body.channel, at, tz
    )
    accepted = next((o for o in body.outcomes if o.outcome == "accepted"), None)
    offer = None
    if accepted is not None:  # refuse before writing anything
        offer = accepted_offer(
            session,
            customer.subscriber_id,
            spaced_ids(customer.eligible_policies),
            accepted.policy_id or default_policy,
            at.date(),
        )
    values: dict[str, Any] = {
        "subscriber_id": body.subscriber_id,
        "at": at,
        "channel": body.channel,
        "status": SENT,
        "blocked_reason": None,
        "over_rule": verdict.reason,
        "task_id": task.id if task else None,
        "campaign_id": campaign_id,
        "policy_id": default_policy,
        "user_id": actor.user_id,
        "note": body.note,
    }
    # Core statements, not the ORM's unit of work: this is the hottest write (the outcome
    # benchmark); the returned objects are plain (transient) model instances.
    contact = Contact(id=session.execute(_INSERT_CONTACT, values).scalar_one(), **values)
    record = CallRecord(contact=contact, verdict=verdict)
    audit_over_rule(session, actor, contact)
    rows = [{"contact_id": contact.id, **row} for row in outcome_rows(body, default_policy)]
    if rows:
        ids = session.execute(_INSERT_OUTCOMES, rows).scalars().all()
        record.outcomes = [ContactOutcome(id=i, **row) for i, row in zip(ids, rows, strict=True)]
    if offer is not None:
        record.acceptance = _accept(session, actor, contact, offer, campaign_id, at)
        record.closed_task_ids = _close_others(session, contact, offer.policy_id, campaign_id, task)
    if task is not None:
        changes = task_changes(body, at)
        if changes:
            session.execute(update(Task).where(Task.id == task.id).values(**changes))
    return record


# Core inserts on the tables (no ORM bulk-insert step, which would also split a batch of
# outcomes into one statement per set of non-null columns)
_TABLES = Contact.metadata.tables
_INSERT_CONTACT = insert(_TABLES["contacts"]).returning(_TABLES["contacts"].c.id)
_INSERT_OUTCOMES = insert(_TABLES["contact_outcomes"]).returning(
    _TABLES["contact_outcomes"].c.id, sort_by_parameter_order=True
)
_INSERT_ACCEPTANCE = insert(_TABLES["acceptances"]).returning(_TABLES["acceptances"].c.id)


def record_system_contact(
    session: Session,
    subscriber_id: str,
    channel: str,
    *,
    tz: ZoneInfo,
    rules: ContactRules | None = None,
    at: datetime | None = None,
    user_id: int | None = None,
    campaign_id: int | None = None,
    policy_id: str | None = None,
    note: str | None = None,
    despite_rules: bool = False,
    marketing: bool = True,
) -> tuple[Contact, Verdict]:
    """Check and record one contact made by the system or on a user's behalf (bulk SMS, a
    campaign's dispatch), without outcomes; the caller has already checked scope.

    Takes the subscriber's lock like :func:`record_call`, so caps hold under concurrency. A
    refused contact is stored as ``blocked`` and returned with the verdict; with
    ``despite_rules`` (a service message the customer's own request calls for, such as the
    confirmation of an accepted offer) it is sent all the same, the rule kept in
    ``over_rule`` and audited. ``marketing`` False (a service or care SMS): an objection to
    marketing SMS does not stop it.
    """
    at = at or utcnow()
    lock_subscriber(session, subscriber_id)
    verdict = check_contact(
        session,
        rules or current_rules(session),
        subscriber_id,
        channel,
        at,
        tz,
        marketing=marketing,
    )
    sent = verdict.allowed or despite_rules
    contact = Contact(
        subscriber_id=subscriber_id,
        at=at,
        channel=channel,
        status=SENT if sent else "blocked",
        blocked_reason=None if sent else verdict.reason,
        over_rule=verdict.reason if sent else None,
        campaign_id=campaign_id,
        policy_id=policy_id,
        user_id=user_id,
        note=note,
    )
    session.add(contact)
    session.flush()
    audit_over_rule(session, user_id, contact)
    return contact, verdict


def _accept(
    session: Session,
    actor: Actor,
    contact: Contact,
    offer: Offer,
    campaign_id: int | None,
    at: datetime,
) -> Acceptance:
    values: dict[str, Any] = {
        "subscriber_id": contact.subscriber_id,
        "policy_id": offer.policy_id,
        "campaign_id": campaign_id,
        "contact_id": contact.id,
        "channel": contact.channel,
        "user_id": actor.user_id,
        "at": at,
        "status": "active",
        "cost": offer.total_cost,
    }
    try:
        acceptance_id = session.execute(_INSERT_ACCEPTANCE, values).scalar_one()
    except IntegrityError as exc:  # the index caught a second acceptance: refuse the request
        raise ConflictError("already accepted in another channel") from exc
    return Acceptance(id=acceptance_id, **values)


def _close_others(
    session: Session,
    contact: Contact,
    policy_id: str,
    campaign_id: int | None,
    task: TaskState | None,
) -> list[int]:
    """Close the subscriber's other open tasks for the policy or campaign (one UPDATE, which
    also locks them); their ids."""
    same = Task.policy_id == policy_id
    if campaign_id is not None:
        same = or_(same, Task.campaign_id == campaign_id)
    statement = update(Task).where(
        Task.subscriber_id == contact.subscriber_id, Task.status == "open", same
    )
    if task is not None:
        statement = statement.where(Task.id != task.id)
    closed = session.scalars(
        statement.values(
            status="closed",
            closed_at=contact.at,
            closed_reason=closed_reason(contact.channel, contact.id),
        ).returning(Task.id)
    ).all()
    return sorted(closed)


def contacts_of(
    session: Session, actor: Actor, subscriber_id: str, limit: int = 100
) -> Sequence[Contact]:
    """Contacts of a customer in scope, newest first."""
    find_customer(session, actor, subscriber_id)
    return session.scalars(
        select(Contact)
        .where(Contact.subscriber_id == subscriber_id)
        .order_by(Contact.at.desc(), Contact.id.desc())
        .limit(limit)
    ).all()


def outcomes_of(session: Session, contact_ids: Sequence[int]) -> dict[int, list[ContactOutcome]]:
    """Outcomes per contact id."""
    out: dict[int, list[ContactOutcome]] = {}
    if contact_ids:
        for row in session.scalars(
            select(ContactOutcome)
            .where(ContactOutcome.contact_id.in_(contact_ids))
            .order_by(ContactOutcome.id)
        ):
            out.setdefault(row.contact_id, []).append(row)
    return out


def inspect_contact(
    session: Session, actor: Actor, contact_id: int, body: InspectionIn
) -> QualityInspection:
    """Record a quality inspection of a contact made by someone whose work the inspector sees
    (shift lead: the team; centre head: the branch; director: all)."""
    actor.require(*INSPECTORS)
    contact = session.scalar(
        select(Contact).where(
            Contact.id == contact_id,
            Contact.user_id.is_not(None),
            user_scope_clause(actor, Contact.user_id),
        )
    )
    if contact is None:
        raise NotFoundError(f"contact {contact_id} not found")
    inspection = QualityInspection(
        contact_id=contact_id,
        inspector_id=actor.user_id,
        at=utcnow(),
        recording_ref=body.recording_ref,
        score=body.score,
        comments=body.comments,
    )
    session.add(inspection)
    session.flush()
    return inspection


# --- do not disturb ----------------------------------------------------------------------------

#: who may lift a do-not-disturb wish (recording one is open to anyone who serves the customer)
DND_LIFTERS = (Role.SHIFT_LEAD, Role.CENTRE_HEAD, Role.DIRECTOR)


def set_do_not_disturb(
    session: Session, actor: Actor, subscriber_id: str, channel: str, reason: str | None
) -> DoNotDisturb:
    """Record the customer's wish not to be contacted on ``channel`` (or ``all``)."""
    actor.require_customer_work()
    find_customer(session, actor, subscriber_id)
    if channel != DND_ALL and channel not in CHANNELS:
        raise InvalidRequestError(f"unknown channel {channel!r}", field="channel")
    wish = session.get(DoNotDisturb, (subscriber_id, channel))
    if wish is None:
        wish = DoNotDisturb(
            subscriber_id=subscriber_id,
            channel=channel,
            reason=reason,
            created_by=actor.user_id,
            created_at=utcnow(),
        )
        session.add(wish)
        session.flush()
    return wish


def lift_do_not_disturb(session: Session, actor: Actor, subscriber_id: str, channel: str) -> None:
    """Remove a wish (shift lead, centre head, director), audited as a configuration change."""
    actor.require(*DND_LIFTERS)
    find_customer(session, actor, subscriber_id)
    wish = session.get(DoNotDisturb, (subscriber_id, channel))
    if wish is None:
        raise NotFoundError(f"no do-not-disturb entry for {channel}")
    session.delete(wish)
    audit(
        session,
        actor.user_id,
        AuditAction.CONFIG_CHANGE,
        "do_not_disturb",
        subscriber_id,
        {"lifted": channel},
    )


def do_not_disturb_of(session: Session, subscriber_id: str) -> Sequence[DoNotDisturb]:
    """The customer's do-not-disturb wishes."""
    return session.scalars(
        select(DoNotDisturb)
        .where(DoNotDisturb.subscriber_id == subscriber_id)
        .order_by(DoNotDisturb.channel)
    ).all()
