"""What recording a call returns and the decisions both recording paths share.

``contacts.service`` (Core statements, any database) and ``contacts.record_pg`` (three
statements on PostgreSQL) read differently but decide alike: the checks of an accepted offer
and of the task worked, and what finishing the task changes, are written once here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, select, true
from sqlalchemy.orm import Session

from weiwan.core.errors import ConflictError, InvalidRequestError
from weiwan.ops.contacts.models import Acceptance, Contact, ContactOutcome
from weiwan.ops.contacts.policy_check import Verdict
from weiwan.ops.contacts.schemas import CallIn
from weiwan.ops.offers.models import PublishedPolicy
from weiwan.ops.org.access import Actor
from weiwan.ops.org.service import AuditAction, audit

#: outcomes after which the task stays open (try again / at the agreed time)
RETRY_OUTCOMES = frozenset({"not_reached", "call_back"})


@dataclass
class CallRecord:
    """What :func:`~weiwan.ops.contacts.service.record_call` stored."""

    contact: Contact
    outcomes: list[ContactOutcome] = field(default_factory=list)
    acceptance: Acceptance | None = None
    closed_task_ids: list[int] = field(default_factory=list)
    verdict: Verdict = field(default_factory=lambda: Verdict(True))


@dataclass(frozen=True, slots=True)
class Offer:
    """The policy being accepted and what it costs."""

    policy_id: str
    total_cost: float


@dataclass(frozen=True, slots=True)
class TaskState:
    """The columns of the task worked that recording a call looks at."""

    id: int
    subscriber_id: str
    status: str
    closed_reason: str | None
    campaign_id: int | None
    policy_id: str | None


def check_task(task: TaskState, subscriber_id: str) -> None:
    """Raise unless ``task`` (found in scope) is an open task of ``subscriber_id``."""
    if task.subscriber_id != subscriber_id:
        raise InvalidRequestError("the task belongs to another subscriber", field="task_id")
    if task.status != "open":
        reason = f": {task.closed_reason}" if task.closed_reason else ""
        raise ConflictError(f"task {task.id} is already {task.status}{reason}")


def check_policy_choice(policy_id: str | None, eligible: list[str]) -> str:
    """The policy to accept: given, and one the customer may get."""
    if policy_id is None:
        raise InvalidRequestError("an acceptance needs the policy", field="policy_id")
    if policy_id not in eligible:
        raise InvalidRequestError(
            f"policy {policy_id!r} is not one this customer may get", field="policy_id"
        )
    return policy_id


def checked_offer(
    policy_id: str,
    day: date,
    validity: tuple[date, date, float] | None,
    earlier: tuple[str, datetime] | None,
) -> Offer:
    """The offer if the policy is valid on ``day`` (``validity``: valid from, valid to, total
    cost; None: no such policy) and not already accepted (``earlier``: channel and time of an
    active acceptance)."""
    if validity is None or not (validity[0] <= day <= validity[1]):
        raise InvalidRequestError(f"policy {policy_id!r} is not valid today", field="policy_id")
    if earlier is not None:
        raise ConflictError(f"already accepted in channel {earlier[0]} at {earlier[1].isoformat()}")
    return Offer(policy_id, validity[2])


def task_changes(body: CallIn, at: datetime) -> dict[str, Any]:
    """What the call changes on the task worked: a call-back moves its due time; any outcome
    but ``not_reached`` / ``call_back`` finishes it (``done``, with the outcomes as reason)."""
    kinds = {o.outcome for o in body.outcomes}
    changes: dict[str, Any] = {}
    if "call_back" in kinds:
        changes["due_at"] = next(o.call_back_at for o in body.outcomes if o.outcome == "call_back")
    if kinds and not kinds <= RETRY_OUTCOMES:
        changes.update(status="done", closed_at=at, closed_reason=",".join(sorted(kinds)))
    return changes


def outcome_rows(body: CallIn, default_policy: str | None) -> list[dict[str, Any]]:
    """The outcome rows of a call (an acceptance without a policy takes the default one)."""
    return [
        {
            "outcome": item.outcome,
            "refusal_reason": item.refusal_reason,
            "call_back_at": item.call_back_at,
            "policy_id": item.policy_id or (default_policy if item.outcome == "accepted" else None),
        }
        for item in body.outcomes
    ]


def closed_reason(channel: str, contact_id: int) -> str:
    """Why a task was closed by an acceptance in another channel."""
    return f"accepted in {channel} (contact {contact_id})"


_EARLIER = (
    select(Acceptance.channel, Acceptance.at)
    .where(
        Acceptance.subscriber_id == bindparam("sid"),
        Acceptance.policy_id == bindparam("pid"),
        Acceptance.status == "active",
    )
    .limit(1)
    .subquery()
)
_OFFER = (
    select(
        PublishedPolicy.valid_from,
        PublishedPolicy.valid_to,
        PublishedPolicy.total_cost,
        _EARLIER.c.channel,
        _EARLIER.c.at,
    )
    .outerjoin(_EARLIER, true())
    .where(PublishedPolicy.policy_id == bindparam("pid"))
)


def accepted_offer(
    session: Session, subscriber_id: str, eligible: list[str], policy_id: str | None, day: date
) -> Offer:
    """The policy being accepted, checked: one the customer may get, valid on the day, and
    not already accepted (one statement for the policy and an earlier acceptance)."""
    policy_id = check_policy_choice(policy_id, eligible)
    row = session.execute(_OFFER, {"sid": subscriber_id, "pid": policy_id}).first()
    validity = None if row is None else (row.valid_from, row.valid_to, row.total_cost)
    earlier = None if row is None or row.channel is None else (row.channel, row.at)
    return checked_offer(policy_id, day, validity, earlier)


def audit_over_rule(session: Session, actor: Actor | int | None, contact: Contact) -> None:
    """Audit a recorded contact that went over a contact rule (nothing when it did not)."""
    if contact.over_rule is not None:
        detail = {"subscriber_id": contact.subscriber_id, "channel": contact.channel}
        audit(
            session,
            actor.user_id if isinstance(actor, Actor) else actor,
            AuditAction.CONTACT_OVER_RULE,
            "contact",
            str(contact.id),
            {**detail, "rule": contact.over_rule},
        )
