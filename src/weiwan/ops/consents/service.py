"""Recording and reading the consent and objection ledger.

Every statement is stored once in ``consent_events`` (append-only) and, in the same
transaction, sets the current state (``consents``) of each channel it names — unless a
statement in effect later already holds it: the latest word of the subscriber wins whatever
order statements arrive in (a CRM file delivered late does not undo a newer SMS reply). The
state is written with one conditional upsert, so two statements recorded at the same moment
leave the later one in force on SQLite and PostgreSQL alike.

Who may do what: any role that serves customers records a statement for a customer in their
scope (agents: their own customers) — the customer's word, consent or objection, audited with
its source and reference; every role reads the ledger of a customer in its scope. The CRM's
file (``consents.imports``) and SMS replies (``sms.replies``) record through
:func:`record_statements` without a user.

An objection to automated decisions that comes into force cancels, in the same transaction, the
customer's open tasks a computer chose for them (``tasks.objections``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, exists, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import QueryableAttribute, Session

from weiwan.core.consent_rules import (
    ALL_CHANNELS,
    OBJECTION,
    PURPOSE_CHANNELS,
    Purpose,
    state_channels,
)
from weiwan.core.errors import InvalidRequestError
from weiwan.ops.base import as_utc, one_of, utcnow
from weiwan.ops.consents.models import Consent, ConsentEvent
from weiwan.ops.consents.schemas import ConsentIn
from weiwan.ops.customers.service import find_customer
from weiwan.ops.org.access import Actor
from weiwan.ops.org.service import AuditAction, audit
from weiwan.ops.tasks.objections import cancel_automated_tasks

#: how far ahead of the server's clock a statement may say it took effect (clock skew)
MAX_FUTURE = timedelta(minutes=10)
#: statements listed with a customer's ledger
HISTORY_LIMIT = 100
#: purposes whose channels are contact channels (the contact checks read them)
CONTACT_PURPOSES = tuple(p for p, channels in PURPOSE_CHANNELS.items() if channels)

_EVENTS = cast(Table, ConsentEvent.__table__)
_STATES = cast(Table, Consent.__table__)
_INSERT_EVENTS = insert(_EVENTS).returning(_EVENTS.c.id, sort_by_parameter_order=True)


@dataclass(frozen=True, slots=True)
class Statement:
    """One consent or objection as a source states it (checked by the caller)."""

    subscriber_id: str
    purpose: str
    channel: str
    state: str
    source: str
    effective_at: datetime
    reference: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str, datetime, str]:
        """What makes two statements the same one (``uq_consent_events_statement``)."""
        at = as_utc(self.effective_at)
        return (self.subscriber_id, self.purpose, self.channel, self.state, at, self.source)


@dataclass
class Recorded:
    """What :func:`record_statements` stored: the new events (a statement stored before, or
    twice in the batch, is counted ``unchanged``) and the tasks it cancelled."""

    events: list[ConsentEvent] = field(default_factory=list)
    unchanged: int = 0
    #: open automated tasks cancelled: an objection to automated decisions came into force
    tasks_cancelled: int = 0


def record_statements(
    session: Session,
    statements: Sequence[Statement],
    *,
    recorded_by: int | None,
    now: datetime | None = None,
) -> Recorded:
    """Store the statements not stored yet and set the current states they win, cancelling
    the open automated tasks of those now objecting to automated decisions; not committed. A
    few statements per query, whatever their number (the caller batches)."""
    wanted: dict[tuple[str, str, str, str, datetime, str], Statement] = {}
    for statement in statements:
        wanted.setdefault(statement.key, statement)
    result = Recorded(unchanged=len(statements) - len(wanted))
    if not wanted:
        return result
    known = _stored_keys(session, {k[0] for k in wanted})
    new = [s for k, s in wanted.items() if k not in known]
    result.unchanged += len(wanted) - len(new)
    if not new:
        return result
    recorded_at = as_utc(now or utcnow())
    rows: list[dict[str, Any]] = [
        {
            "subscriber_id": s.subscriber_id,
            "purpose": s.purpose,
            "channel": s.channel,
            "state": s.state,
            "source": s.source,
            "effective_at": as_utc(s.effective_at),
            "recorded_at": recorded_at,
            "recorded_by": recorded_by,
            "reference": s.reference,
        }
        for s in new
    ]
    ids = session.execute(_INSERT_EVENTS, rows).scalars().all()
    result.events = [ConsentEvent(id=i, **row) for i, row in zip(ids, rows, strict=True)]
    _set_states(session, result.events)
    result.tasks_cancelled = _cancel_for_new_objectors(session, result.events, recorded_at)
    return result


def _cancel_for_new_objectors(
    session: Session, events: Sequence[ConsentEvent], now: datetime
) -> int:
    """Cancel the open automated tasks of the subscribers whose objection to automated
    decisions among ``events`` is now in force (a later consent may hold the state)."""
    objecting = {
        e.subscriber_id
        for e in events
        if e.purpose == Purpose.AUTOMATED_DECISION.value and e.state == OBJECTION
    }
    return cancel_automated_tasks(session, automated_objectors(session, objecting), now)


def _stored_keys(
    session: Session, subscriber_ids: Iterable[str]
) -> set[tuple[str, str, str, str, datetime, str]]:
    """The keys of the statements already stored for these subscribers."""
    query = select(
        ConsentEvent.subscriber_id,
        ConsentEvent.purpose,
        ConsentEvent.channel,
        ConsentEvent.state,
        ConsentEvent.effective_at,
        ConsentEvent.source,
    ).where(one_of(session, ConsentEvent.subscriber_id, sorted(subscriber_ids)))
    return {(s, p, c, st, as_utc(at), src) for s, p, c, st, at, src in session.execute(query)}


def _set_states(session: Session, events: Sequence[ConsentEvent]) -> None:
    """Upsert the current state of each channel the events name; a state already set by a
    statement in effect later stays (one statement per state key, the batch's latest)."""
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for event in sorted(events, key=lambda e: (e.effective_at, e.id)):
        for channel in state_channels(event.purpose, event.channel):
            latest[(event.subscriber_id, event.purpose, channel)] = {
                "subscriber_id": event.subscriber_id,
                "purpose": event.purpose,
                "channel": channel,
                "state": event.state,
                "effective_at": event.effective_at,
                "source": event.source,
                "event_id": event.id,
            }
    dialect = session.get_bind().dialect.name
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(_STATES)
    upsert = statement.on_conflict_do_update(
        index_elements=["subscriber_id", "purpose", "channel"],
        set_={
            "state": statement.excluded.state,
            "effective_at": statement.excluded.effective_at,
            "source": statement.excluded.source,
            "event_id": statement.excluded.event_id,
        },
        where=_STATES.c.effective_at <= statement.excluded.effective_at,
    )
    session.execute(upsert, list(latest.values()))


def _event_of(session: Session, statement: Statement) -> ConsentEvent:
    """The stored event of a statement recorded before."""
    sid, purpose, channel, state, at, source = statement.key
    return session.scalars(
        select(ConsentEvent).where(
            ConsentEvent.subscriber_id == sid,
            ConsentEvent.purpose == purpose,
            ConsentEvent.channel == channel,
            ConsentEvent.state == state,
            ConsentEvent.effective_at == at,
            ConsentEvent.source == source,
        )
    ).one()


def audit_statement(session: Session, user_id: int | None, event: ConsentEvent) -> None:
    """Audit one recorded statement (``consent``, on the customer)."""
    audit(
        session,
        user_id,
        AuditAction.CONSENT,
        "customer",
        event.subscriber_id,
        {
            "purpose": event.purpose,
            "channel": event.channel,
            "state": event.state,
            "source": event.source,
            "reference": event.reference,
            "effective_at": as_utc(event.effective_at).isoformat(),
        },
    )


def record_for_customer(
    session: Session,
    actor: Actor,
    subscriber_id: str,
    body: ConsentIn,
    *,
    now: datetime | None = None,
) -> ConsentEvent:
    """Record what a customer in the actor's scope said (roles that serve customers), audited;
    the same statement again (same time given) returns the one stored."""
    actor.require_customer_work()
    find_customer(session, actor, subscriber_id)
    now = as_utc(now or utcnow())
    effective = as_utc(body.effective_at) if body.effective_at is not None else now
    if effective > now + MAX_FUTURE:
        raise InvalidRequestError(
            "a statement cannot take effect in the future", field="effective_at"
        )
    statement = Statement(
        subscriber_id=subscriber_id,
        purpose=body.purpose,
        channel=body.channel,
        state=body.state,
        source=body.source,
        effective_at=effective,
        reference=(body.reference or "").strip() or None,
    )
    recorded = record_statements(session, [statement], recorded_by=actor.user_id, now=now)
    if not recorded.events:
        return _event_of(session, statement)
    event = recorded.events[0]
    audit_statement(session, actor.user_id, event)
    return event


@dataclass(frozen=True, slots=True)
class Ledger:
    """A customer's current states and their latest statements, newest first."""

    current: Sequence[Consent]
    history: Sequence[ConsentEvent]


def ledger_of(
    session: Session, actor: Actor, subscriber_id: str, *, limit: int = HISTORY_LIMIT
) -> Ledger:
    """The ledger of a customer in the actor's scope (404 outside it)."""
    find_customer(session, actor, subscriber_id)
    current = session.scalars(
        select(Consent)
        .where(Consent.subscriber_id == subscriber_id)
        .order_by(Consent.purpose, Consent.channel)
    ).all()
    history = session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.subscriber_id == subscriber_id)
        .order_by(ConsentEvent.effective_at.desc(), ConsentEvent.id.desc())
        .limit(limit)
    ).all()
    return Ledger(current, history)


def objections_of(session: Session, subscriber_id: str) -> list[tuple[str, str]]:
    """The (purpose, channel) a subscriber currently objects to, in order."""
    rows = session.execute(
        select(Consent.purpose, Consent.channel)
        .where(Consent.subscriber_id == subscriber_id, Consent.state == OBJECTION)
        .order_by(Consent.purpose, Consent.channel)
    )
    return [(str(p), str(c)) for p, c in rows]


def automated_objectors(session: Session, subscriber_ids: Iterable[str]) -> set[str]:
    """Which of ``subscriber_ids`` object to personalised automated decisions (Article 24):
    the real-time events decide nothing for them."""
    wanted = sorted(set(subscriber_ids))
    if not wanted:
        return set()
    return set(
        session.scalars(
            select(Consent.subscriber_id).where(
                one_of(session, Consent.subscriber_id, wanted),
                Consent.purpose == Purpose.AUTOMATED_DECISION.value,
                Consent.channel == ALL_CHANNELS,
                Consent.state == OBJECTION,
            )
        )
    )


def automated_objector_clause(
    subscriber_id: ColumnElement[str] | QueryableAttribute[str],
) -> ColumnElement[bool]:
    """SQL true where the subscriber in ``subscriber_id`` (a column of the outer query) objects
    to personalised automated decisions: a campaign's filter picks its targets by computer from
    their profile, so the campaigns leave them out (docs/privacy.md)."""
    return exists().where(
        Consent.subscriber_id == subscriber_id,
        Consent.purpose == Purpose.AUTOMATED_DECISION.value,
        Consent.channel == ALL_CHANNELS,
        Consent.state == OBJECTION,
    )


#: the columns of :func:`objection_feed`
FEED_COLUMNS = ("subscriber_id", "purpose", "channel")


def objection_feed(session: Session) -> list[dict[str, Any]]:
    """Every current objection (subscriber_id, purpose, channel) for the day's decisions."""
    return [
        {"subscriber_id": sid, "purpose": purpose, "channel": channel}
        for sid, purpose, channel in session.execute(
            select(Consent.subscriber_id, Consent.purpose, Consent.channel)
            .where(Consent.state == OBJECTION)
            .order_by(Consent.subscriber_id, Consent.purpose, Consent.channel)
        )
    ]
