"""Tables of the real-time events: service tokens, events (one row per source and event id)
and the dead letters of refused events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from weiwan.ops.base import Base, UTCDateTime, utcnow

#: received → processed / ignored (no rule fired, unknown subscriber) / rejected
STATUSES = ("received", "processed", "ignored", "rejected")
#: what a service token may do: take events in, nothing else
SCOPES = ("events",)


class ServiceToken(Base):
    """A system's credential for event intake (a bearer token): stored only as its SHA-256
    (the token is 32 random bytes, so a fast hash cannot be brute-forced back, unlike a
    password); revocable; every use stamps ``last_used_at`` (at most once a minute)."""

    __tablename__ = "service_tokens"
    __table_args__ = (CheckConstraint("scope IN ('events')", name="scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the source system, also the events' ``source``
    name: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(16), default="events")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EventRecord(Base):
    """One event taken in (idempotent by source and event id) and what became of it."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("source", "event_id"),
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        Index("ix_events_status_received", "status", "received_at"),
        Index("ix_events_event_id", "event_id"),
        Index("ix_events_subscriber", "subscriber_id", "occurred_at"),
        Index("ix_events_received", "received_at"),  # a day's events (the events page, /metrics)
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    source: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(64))
    subscriber_id: Mapped[str | None] = mapped_column(String(32))
    msisdn: Mapped[str | None] = mapped_column(String(24))
    type: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the typed attributes, as JSON
    attributes: Mapped[str] = mapped_column(Text, default="{}")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="received")
    rule_id: Mapped[str | None] = mapped_column(String(64))
    #: the decision with its reasons, as JSON
    decision: Mapped[str | None] = mapped_column(Text)
    task_id: Mapped[int | None] = mapped_column(Integer)
    message_id: Mapped[int | None] = mapped_column(Integer)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(String(200))


class EventDeadLetter(Base):
    """An event refused at intake, kept with why (the payload as sent, cut at 8 000
    characters)."""

    __tablename__ = "event_dead_letters"
    __table_args__ = (Index("ix_event_dead_letters_received", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    #: the event's place in its batch
    position: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


#: waiting → done (its contact made) / blocked (the contact policy or capacity refused it) /
#: accepted (the customer accepted an offer since the event: the sequence ends) / lost (the
#: customer left) / stopped (its rule no longer has the step)
FOLLOW_UP_STATUSES = ("waiting", "done", "blocked", "accepted", "lost", "stopped")


class FollowUpTimer(Base):
    """A durable timer of an event rule's follow-up step: kept in the database, so a restart
    loses none; fired by ``weiwan events follow-ups`` (every minute from cron or a
    scheduler), several at once on PostgreSQL (``SKIP LOCKED``)."""

    __tablename__ = "event_follow_ups"
    __table_args__ = (
        CheckConstraint(f"status IN {FOLLOW_UP_STATUSES!r}", name="status"),
        UniqueConstraint("event_record_id", "step"),
        Index("ix_event_follow_ups_due", "status", "due_at"),
        Index("ix_event_follow_ups_subscriber", "subscriber_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_record_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    subscriber_id: Mapped[str] = mapped_column(String(32))
    rule_id: Mapped[str] = mapped_column(String(64))
    #: the step's place in the rule's ``follow_up`` (1 = the first)
    step: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    note: Mapped[str | None] = mapped_column(String(200))
    task_id: Mapped[int | None] = mapped_column(Integer)
    message_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
