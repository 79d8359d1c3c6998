"""Contacts (接触记录), their outcomes, acceptances (受理) and call quality inspections."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from weiwan.ops.base import Base, UTCDateTime, utcnow

OUTCOMES = ("connected", "not_reached", "refused", "accepted", "call_back", "wrong_number")
CONTACT_STATUSES = ("sent", "blocked")
ACCEPTANCE_STATUSES = ("active", "cancelled", "expired")


class Contact(Base):
    """One contact with a subscriber in one channel.

    A contact the system makes (an SMS, a campaign's dispatch) is checked against the contact
    policy first: ``status`` is ``blocked`` (with the reason) when the policy refused it; the
    attempt is kept for the record but never counts as a contact. A contact a person records
    (a call, a visit) has taken place: it is always ``sent``, and ``over_rule`` names the rule
    it went over, if any (audited).
    """

    __tablename__ = "contacts"
    __table_args__ = (
        CheckConstraint(f"status IN {CONTACT_STATUSES!r}", name="status"),
        Index("ix_contacts_subscriber_at", "subscriber_id", "at"),
        Index("ix_contacts_user_at", "user_id", "at"),
        Index("ix_contacts_at", "at"),  # a day's contacts (/metrics)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    blocked_reason: Mapped[str | None] = mapped_column(String(64))
    over_rule: Mapped[str | None] = mapped_column(String(64))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    policy_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)


class ContactOutcome(Base):
    """One outcome of a contact; a call may have several (connected, then refused)."""

    __tablename__ = "contact_outcomes"
    __table_args__ = (CheckConstraint(f"outcome IN {OUTCOMES!r}", name="outcome"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    refusal_reason: Mapped[str | None] = mapped_column(String(200))
    call_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    policy_id: Mapped[str | None] = mapped_column(String(64))


class Acceptance(Base):
    """A subscriber took a policy (受理). At most one active acceptance per subscriber and
    policy: the partial unique index makes the second of two simultaneous channels fail."""

    __tablename__ = "acceptances"
    __table_args__ = (
        CheckConstraint(f"status IN {ACCEPTANCE_STATUSES!r}", name="status"),
        Index("ix_acceptances_subscriber_at", "subscriber_id", "at"),
        Index("ix_acceptances_at", "at"),  # a day's acceptances (/metrics)
        Index(
            "uq_acceptances_active",
            "subscriber_id",
            "policy_id",
            unique=True,
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(String(32))
    policy_id: Mapped[str] = mapped_column(String(64))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    channel: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="active")
    cost: Mapped[float | None] = mapped_column(Float)


class SubscriberLock(Base):
    """One row per contacted subscriber, locked (SELECT … FOR UPDATE) while a contact is checked
    against the caps and recorded, so concurrent contacts of one subscriber go one at a time."""

    __tablename__ = "subscriber_locks"

    subscriber_id: Mapped[str] = mapped_column(String(32), primary_key=True)


class QualityInspection(Base):
    """A call quality inspection (质检): recording reference, score 0–100, comments."""

    __tablename__ = "quality_inspections"
    __table_args__ = (CheckConstraint("score BETWEEN 0 AND 100", name="score"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recording_ref: Mapped[str | None] = mapped_column(String(300))
    score: Mapped[int] = mapped_column(Integer)
    comments: Mapped[str | None] = mapped_column(Text)


class DoNotDisturb(Base):
    """A subscriber's wish not to be contacted (免打扰) on one channel, or ``all`` proactive
    channels; checked with the contact policy and fed back to the day's decisions."""

    __tablename__ = "do_not_disturb"

    subscriber_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    reason: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
