"""Tables of the appraisal domain: weekly plans (周计划), daily checks (每日抽查), the stored
scorecards of closed months and the complaints the pipeline publishes for them.

The appraisal scheme (targets, daily contact standards, weights) is one
``config_documents`` row (``appraisal:settings``, see :mod:`weiwan.ops.appraisal.scheme`).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from weiwan.ops.base import Base, UTCDateTime, utcnow

CHECK_RESULTS = ("ok", "needs_correction")
LEVELS = ("agent", "team", "branch")


class WeeklyPlan(Base):
    """An agent's plan for one ISO week (``week``: its Monday); editable until the week ends;
    the shift lead's comment alongside."""

    __tablename__ = "weekly_plans"
    __table_args__ = (UniqueConstraint("user_id", "week"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    week: Mapped[date] = mapped_column(Date)
    goals: Mapped[str] = mapped_column(Text)
    target_customers: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    comment: Mapped[str | None] = mapped_column(Text)
    comment_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    commented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DailyCheck(Base):
    """A shift lead's check of an agent's records of one day (one per agent, checker and day;
    recording it again replaces it)."""

    __tablename__ = "daily_checks"
    __table_args__ = (
        UniqueConstraint("agent_id", "checker_id", "day"),
        CheckConstraint(f"result IN {CHECK_RESULTS!r}", name="result"),
        CheckConstraint("records_checked >= 0", name="records_checked"),
        Index("ix_daily_checks_agent_day", "agent_id", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    checker_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    day: Mapped[date] = mapped_column(Date)
    records_checked: Mapped[int] = mapped_column(Integer)
    findings: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScorecardMonth(Base):
    """A closed month: its scorecards are stored (``scorecards``)."""

    __tablename__ = "scorecard_months"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    subjects: Mapped[int] = mapped_column(Integer, default=0)


class Scorecard(Base):
    """One subject's (agent, team, branch) stored scorecard of a closed month: the figures as
    JSON (see docs/appraisal.md), the weighted score and the rank within the level."""

    __tablename__ = "scorecards"
    __table_args__ = (
        UniqueConstraint("month", "level", "subject_id"),
        CheckConstraint(f"level IN {LEVELS!r}", name="level"),
        Index("ix_scorecards_subject", "level", "subject_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[date] = mapped_column(ForeignKey("scorecard_months.month"))
    level: Mapped[str] = mapped_column(String(8))
    subject_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    branch_id: Mapped[int | None] = mapped_column(Integer)
    team_id: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Float)
    rank: Mapped[int] = mapped_column(Integer)
    figures: Mapped[str] = mapped_column(Text)


class PublishedComplaint(Base):
    """A complaint from the warehouse (kind ``complaints``: the last three complete months and
    the current one), replaced whole by each publish."""

    __tablename__ = "published_complaints"
    __table_args__ = (Index("ix_published_complaints_subscriber_at", "subscriber_id", "at"),)

    complaint_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    category: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    branch_code: Mapped[str | None] = mapped_column(String(64))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"), index=True)
