"""Tables of the anomaly pool: one row per (subscriber, rule, period) and its status history."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from weiwan.ops.base import Base, UTCDateTime, utcnow

#: new → assigned → handled / dismissed (a new entry may also be handled or dismissed at once)
STATUSES = ("new", "assigned", "handled", "dismissed")
CATEGORIES = ("billing", "disconnection")


class Anomaly(Base):
    """One anomaly-pool entry (异常), added once by the publish of the day it was detected.

    Rule names, evidence (JSON text), branch, value tier and account manager are copied from the
    snapshot, so the pool reads without the warehouse; ``manager_id`` is the user whose display
    name or username is the data's account manager, when there is one.
    """

    __tablename__ = "anomalies"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        CheckConstraint(f"category IN {CATEGORIES!r}", name="category"),
        UniqueConstraint("subscriber_id", "rule_id", "period_key"),
        Index("ix_anomalies_branch_status", "branch_id", "status"),
        Index("ix_anomalies_detected_on", "detected_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(String(32))
    rule_id: Mapped[str] = mapped_column(String(64))
    period_key: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    evidence: Mapped[str] = mapped_column(Text)
    detected_on: Mapped[date] = mapped_column(Date)
    branch_code: Mapped[str | None] = mapped_column(String(32))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    value_tier: Mapped[str | None] = mapped_column(String(32))
    account_manager: Mapped[str | None] = mapped_column(String(64))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="new")
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class AnomalyChange(Base):
    """One status change of an entry: who, when, from → to, the note; never rewritten."""

    __tablename__ = "anomaly_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    anomaly_id: Mapped[int] = mapped_column(ForeignKey("anomalies.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
