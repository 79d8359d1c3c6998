"""Recording a call on PostgreSQL in three statements (the outcome benchmark's hot path).

The generic path (``contacts.service.record_call_generic``) takes up to eleven statements. Here:

1. **lock** — the customer in the caller's scope, the published contact rules, and the
   subscriber's lock taken only when the customer is in scope (an upsert in a CTE, which waits
   while another transaction holds the lock);
2. **read** — after the lock, so the snapshot includes every contact committed by earlier
   holders: the task worked (``FOR UPDATE``, in scope), the sent contacts of the check window
   with their refusals, the do-not-disturb wishes, the objections of the consent ledger, the
   accepted policy and an earlier active acceptance of it;
3. **write** — ``sql/record_postgresql.sql``: contact, outcomes, acceptance, closure of the other
   channels' tasks and the change to the task worked.

The lock must be its own statement: a statement sees the database as of its start, so reading
the history in the statement that waits for the lock could miss the contact of the transaction
it waited for. The contact policy is decided in Python by the same function as the generic path
(``policy_check.verdict_of``); the scope clauses are the generic path's, so statements 1 and 2
are built once per actor. ``tests/ops/contacts/test_contact_paths.py`` checks both paths record
alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, Select, String, bindparam, func, select, text, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from weiwan.core.consent_rules import OBJECTION
from weiwan.core.contact_rules import DND_ALL, ContactRules
from weiwan.core.errors import ConflictError, NotFoundError
from weiwan.ops.base import as_utc, utcnow
from weiwan.ops.consents.models import Consent
from weiwan.ops.contacts.models import (
    Acceptance,
    Contact,
    ContactOutcome,
    DoNotDisturb,
    SubscriberLock,
)
from weiwan.ops.contacts.policy_check import SENT, HistoryRow, Verdict, verdict_of, window_of
from weiwan.ops.contacts.records import (
    CallRecord,
    Offer,
    TaskState,
    accepted_offer,
    audit_over_rule,
    check_policy_choice,
    check_task,
    checked_offer,
    outcome_rows,
    task_changes,
)
from weiwan.ops.contacts.rules import RULES_DOCUMENT, rules_of
from weiwan.ops.contacts.schemas import CallIn
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.customers.service import spaced_ids
from weiwan.ops.offers.models import PublishedPolicy
from weiwan.ops.org.access import Actor
from weiwan.ops.scope import customer_scope_clause, task_scope_clause
from weiwan.ops.tasks.models import Task

#: the partial unique index that admits one active acceptance per subscriber and policy
ACTIVE_ACCEPTANCE_INDEX = "uq_acceptances_active"
_WRITE = text(
    resources.files("weiwan.ops.contacts.sql").joinpath("record_postgresql.sql").read_text("utf-8")
)


@dataclass(frozen=True, slots=True)
class _Statements:
    lock: Select[Any]
    read: Select[Any]


def _lock_statement(actor: Actor) -> Select[Any]:
    """Statement 1: eligible policies and rules of a customer in scope, locking the subscriber."""
    sid = bindparam("sid", type_=String)
    in_scope = select(CustomerView.subscriber_id).where(
        CustomerView.subscriber_id == sid, customer_scope_clause(actor)
    )
    upsert = pg_insert(SubscriberLock).from_select(["subscriber_id"], in_scope)
    locked = (
        upsert.on_conflict_do_update(
            index_elements=["subscriber_id"], set_={"subscriber_id": upsert.excluded.subscriber_id}
        )
        .returning(SubscriberLock.subscriber_id)
        .cte("locked")
    )
    return select(
        CustomerView.eligible_policies,
        RULES_DOCUMENT.scalar_subquery().label("rules"),
        select(func.count()).select_from(locked).scalar_subquery().label("locked"),
    ).where(CustomerView.subscriber_id == sid, customer_scope_clause(actor))


def _read_statement(actor: Actor) -> Select[Any]:
    """Statement 2: everything the checks read, after the lock (one row)."""
    sid = bindparam("sid", type_=String)
    refused = (
        select(ContactOutcome.id)
        .where(
            ContactOutcome.contact_id == Contact.id,
            ContactOutcome.outcome.in_(bindparam("refusals", expanding=True)),
        )
        .exists()
    )
    history = (
        select(
            func.array_agg(Contact.channel).label("channels"),
            func.array_agg(Contact.at).label("ats"),
            func.array_agg(refused).label("refused"),
        )
        .where(
            Contact.subscriber_id == sid,
            Contact.status == SENT,
            Contact.at >= bindparam("since", type_=Contact.at.type),
            Contact.at < bindparam("until", type_=Contact.at.type),
        )
        .subquery("history")
    )
    wishes = (
        select(func.array_agg(DoNotDisturb.channel))
        .where(
            DoNotDisturb.subscriber_id == sid,
            DoNotDisturb.channel.in_(bindparam("wish_channels", expanding=True)),
        )
        .scalar_subquery()
    )
    objections = (
        select(func.array_agg(Consent.channel))
        .where(
            Consent.subscriber_id == sid,
            Consent.state == OBJECTION,
            Consent.channel == bindparam("objected_channel", type_=String),
        )
        .scalar_subquery()
    )
    task = (
        select(
            Task.id.label("task_id"),
            Task.subscriber_id.label("task_subscriber"),
            Task.status.label("task_status"),
            Task.closed_reason.label("task_closed_reason"),
            Task.campaign_id.label("task_campaign"),
            Task.policy_id.label("task_policy"),
        )
        .where(Task.id == bindparam("task_id", type_=Task.id.type), task_scope_clause(actor))
        .with_for_update(of=Task)
        .cte("task")
    )
    accepting = bindparam("accepting", type_=Boolean)
    chosen = func.coalesce(bindparam("policy_hint", type_=String), task.c.task_policy)
    policy = (
        select(
            PublishedPolicy.policy_id.label("offer_policy"),
            PublishedPolicy.valid_from,
            PublishedPolicy.valid_to,
            PublishedPolicy.total_cost,
        )
        .where(PublishedPolicy.policy_id == chosen, accepting)
        .lateral("policy")
    )
    earlier = (
        select(Acceptance.channel.label("earlier_channel"), Acceptance.at.label("earlier_at"))
        .where(
            Acceptance.subscriber_id == sid,
            Acceptance.policy_id == chosen,
            Acceptance.status == "active",
            accepting,
        )
        .limit(1)
        .lateral("earlier")
    )
    return select(
        history.c.channels,
        history.c.ats,
        history.c.refused,
        wishes.label("wishes"),
        objections.label("objections"),
        task.c.task_id,
        task.c.task_subscriber,
        task.c.task_status,
        task.c.task_closed_reason,
        task.c.task_campaign,
        task.c.task_policy,
        chosen.label("chosen_policy"),
        policy.c.offer_policy,
        policy.c.valid_from,
        policy.c.valid_to,
        policy.c.total_cost,
        earlier.c.earlier_channel,
        earlier.c.earlier_at,
    ).select_from(
        history.outerjoin(task, true()).outerjoin(policy, true()).outerjoin(earlier, true())
    )


@lru_cache(maxsize=512)
def _statements(actor: Actor) -> _Statements:
    """The actor's statements 1 and 2 (their scope clauses depend only on the actor)."""
    return _Statements(lock=_lock_statement(actor), read=_read_statement(actor))


def record_call_pg(
    session: Session,
    actor: Actor,
    body: CallIn,
    *,
    tz: ZoneInfo,
    rules: ContactRules | None = None,
    now: datetime | None = None,
) -> CallRecord:
    """``contacts.service.record_call`` in three statements (PostgreSQL, a known channel)."""
    actor.require_customer_work()
    at = body.at or now or utcnow()
    sid = body.subscriber_id
    statements = _statements(actor)
    # on the session's connection: Core execution, without the ORM's per-statement set-up
    connection = session.connection()
    customer = connection.execute(statements.lock, {"sid": sid}).first()
    if customer is None:
        raise NotFoundError(f"customer {sid} not found")
    rules = rules or rules_of(customer.rules)
    accepted = next((o for o in body.outcomes if o.outcome == "accepted"), None)
    window = window_of(rules, body.channel, at, tz)
    row = connection.execute(
        statements.read,
        {
            "sid": sid,
            "since": window.since,
            "until": window.until,
            "refusals": list(rules.refusal_outcomes),
            "wish_channels": [body.channel, DND_ALL],
            "objected_channel": body.channel,
            "task_id": body.task_id,
            "policy_hint": (accepted.policy_id if accepted else None) or body.policy_id or None,
            "accepting": accepted is not None,
        },
    ).one()
    task = _task_of(row, body)
    campaign_id = body.campaign_id
    if campaign_id is None and task is not None:
        campaign_id = task.campaign_id
    default_policy = body.policy_id or (task.policy_id if task else None)
    history: list[HistoryRow] = list(
        zip(row.channels or [], row.ats or [], row.refused or [], strict=True)
    )
    verdict = verdict_of(
        rules, body.channel, at, tz, history, set(row.wishes or []), set(row.objections or [])
    )
    offer = None
    if accepted is not None:  # refuse before writing anything
        eligible = spaced_ids(customer.eligible_policies)
        chosen = accepted.policy_id or default_policy
        if chosen != row.chosen_policy:  # not what statement 2 looked up: ask again
            offer = accepted_offer(session, sid, eligible, chosen, at.date())
        else:
            offer = _offer_of(row, check_policy_choice(chosen, eligible), at)
    return _write(session, actor, body, at, task, campaign_id, default_policy, verdict, offer)


def _task_of(row: Any, body: CallIn) -> TaskState | None:
    """The task worked, as statement 2 read and locked it, checked."""
    if body.task_id is None:
        return None
    if row.task_id is None:
        raise NotFoundError(f"task {body.task_id} not found")
    task = TaskState(
        row.task_id,
        row.task_subscriber,
        row.task_status,
        row.task_closed_reason,
        row.task_campaign,
        row.task_policy,
    )
    check_task(task, body.subscriber_id)
    return task


def _offer_of(row: Any, policy_id: str, at: datetime) -> Offer:
    validity = None
    if row.offer_policy is not None:
        validity = (row.valid_from, row.valid_to, row.total_cost)
    earlier = None if row.earlier_channel is None else (row.earlier_channel, row.earlier_at)
    return checked_offer(policy_id, at.date(), validity, earlier)


def _write(
    session: Session,
    actor: Actor,
    body: CallIn,
    at: datetime,
    task: TaskState | None,
    campaign_id: int | None,
    default_policy: str | None,
    verdict: Verdict,
    offer: Offer | None,
) -> CallRecord:
    """Statement 3, and the record of what it stored."""
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
    rows = outcome_rows(body, default_policy)
    changes = task_changes(body, at) if task is not None else {}
    params = {
        **values,
        "at": as_utc(at),
        "outcomes": [r["outcome"] for r in rows],
        "refusal_reasons": [r["refusal_reason"] for r in rows],
        "call_back_ats": [_utc_or_none(r["call_back_at"]) for r in rows],
        "outcome_policies": [r["policy_id"] for r in rows],
        "accepting": offer is not None,
        "accepted_policy": offer.policy_id if offer else None,
        "cost": offer.total_cost if offer else None,
        "move_due": "due_at" in changes,
        "due_at": _utc_or_none(changes.get("due_at")),
        "finish": "status" in changes,
        "finished_reason": changes.get("closed_reason"),
    }
    try:
        written = session.connection().execute(_WRITE, params).one()
    except IntegrityError as exc:  # the index caught a second acceptance: refuse the request
        if _constraint_of(exc) != ACTIVE_ACCEPTANCE_INDEX:
            raise
        raise ConflictError("already accepted in another channel") from exc
    contact = Contact(id=written.contact_id, **values)
    record = CallRecord(contact=contact, verdict=verdict)
    audit_over_rule(session, actor, contact)
    record.outcomes = [
        ContactOutcome(id=i, contact_id=contact.id, **r)
        for i, r in zip(written.outcome_ids, rows, strict=True)
    ]
    if offer is not None:
        record.acceptance = Acceptance(
            id=written.acceptance_id,
            subscriber_id=body.subscriber_id,
            policy_id=offer.policy_id,
            campaign_id=campaign_id,
            contact_id=contact.id,
            channel=body.channel,
            user_id=actor.user_id,
            at=at,
            status="active",
            cost=offer.total_cost,
        )
        record.closed_task_ids = list(written.closed_task_ids)
    return record


def _constraint_of(exc: IntegrityError) -> str | None:
    """The name of the constraint ``exc`` reports (psycopg's diagnostics)."""
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


def _utc_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)
