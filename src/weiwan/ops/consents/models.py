"""The ledger's tables: every statement as it was made (``consent_events``, append-only) and the
current state per subscriber, purpose and channel (``consents``), kept in the transaction that
records a statement."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from weiwan.core.consent_rules import PURPOSES, SOURCES, STATES
from weiwan.ops.base import Base, UTCDateTime, utcnow


class ConsentEvent(Base):
    """One statement of a subscriber: consent to or objection to a purpose on a channel (or
    ``all`` of its channels), from a source, in effect from ``effective_at``. Never changed or
    deleted; the same statement (subscriber, purpose, channel, state, time and source) is kept
    once, so importing a file again adds nothing."""

    __tablename__ = "consent_events"
    __table_args__ = (
        CheckConstraint(f"purpose IN {PURPOSES!r}", name="purpose"),
        CheckConstraint(f"state IN {STATES!r}", name="state"),
        CheckConstraint(f"source IN {SOURCES!r}", name="source"),
        UniqueConstraint(
            "subscriber_id",
            "purpose",
            "channel",
            "state",
            "effective_at",
            "source",
            name="uq_consent_events_statement",
        ),
        Index("ix_consent_events_recorded_at", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: the CRM's record, the gateway's message id, a call recording, a ticket …
    reference: Mapped[str | None] = mapped_column(String(100))


class Consent(Base):
    """The current state of one subscriber, purpose and channel (``all`` for a purpose without
    channels): the statement in effect latest wins, whatever order they were recorded in."""

    __tablename__ = "consents"
    __table_args__ = (
        CheckConstraint(f"state IN {STATES!r}", name="state"),
        # the daily collection and the checks of a batch read the objections
        Index("ix_consents_state", "state", "subscriber_id"),
    )

    subscriber_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[int] = mapped_column(ForeignKey("consent_events.id"))
