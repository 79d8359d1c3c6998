"""Campaigns (维挽活动, 四步一库): plans, their state history, approval chains and members.

List-valued and structured fields (target filter, policy ids, channels, rehearsal, evaluation)
are JSON text: they are read and written whole with their campaign, never queried inside.
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

DRAFT = "draft"
REHEARSED = "rehearsed"
SUBMITTED = "submitted"
APPROVED = "approved"
REJECTED = "rejected"
RUNNING = "running"
COMPLETED = "completed"
EVALUATED = "evaluated"
STATUSES = (DRAFT, REHEARSED, SUBMITTED, APPROVED, REJECTED, RUNNING, COMPLETED, EVALUATED)
TREATED = "treated"
HOLDOUT = "holdout"
ARMS = (TREATED, HOLDOUT)


class Campaign(Base):
    """One campaign plan (活动方案) and, once run, its results.

    ``approval_level`` is the level waiting for a decision while ``submitted``;
    ``approval_chain`` the chain (JSON list of roles, level 1 first) fixed at submission.
    """

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        CheckConstraint("holdout_share > 0 AND holdout_share <= 0.5", name="holdout_share"),
        Index("ix_campaigns_branch_status", "branch_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    status: Mapped[str] = mapped_column(String(16), default=DRAFT)
    target_filter: Mapped[str] = mapped_column(Text)
    policy_ids: Mapped[str] = mapped_column(Text)
    channels: Mapped[str] = mapped_column(Text)
    script_zh: Mapped[str] = mapped_column(Text, default="")
    script_en: Mapped[str] = mapped_column(Text, default="")
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    holdout_share: Mapped[float] = mapped_column(Float)
    #: the questionnaire to ask (surveys domain); a plain id, no foreign key
    questionnaire_id: Mapped[int | None] = mapped_column(Integer)
    cloned_from: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approval_level: Mapped[int | None] = mapped_column(Integer)
    approval_chain: Mapped[str | None] = mapped_column(Text)
    rehearsal: Mapped[str | None] = mapped_column(Text)
    start_summary: Mapped[str | None] = mapped_column(Text)
    evaluation: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CampaignTransition(Base):
    """One change of a campaign's state (or one approval level passed): who, when, why."""

    __tablename__ = "campaign_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    level: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    #: what the system says, as data (``{"kind": "rehearsed", "targets": 199}``, JSON): the
    #: pages put it into the reader's words; ``comment`` is what a person wrote
    note: Mapped[str | None] = mapped_column(Text)


class ApprovalStep(Base):
    """One level of a branch's approval chain (审批流程); ``branch_id`` NULL = the default."""

    __tablename__ = "approval_steps"
    __table_args__ = (UniqueConstraint("branch_id", "level"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    level: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(32))


class CampaignMember(Base):
    """A subscriber in a started campaign, in the treated arm or the hold-out (对照组), with
    the figures at start that the evaluation compares against."""

    __tablename__ = "campaign_members"
    __table_args__ = (
        CheckConstraint(f"arm IN {ARMS!r}", name="arm"),
        Index("ix_campaign_members_subscriber_id", "subscriber_id"),
    )

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    arm: Mapped[str] = mapped_column(String(8))
    branch_id: Mapped[int | None] = mapped_column(Integer)
    churn_probability: Mapped[float | None] = mapped_column(Float)
    future_value: Mapped[float | None] = mapped_column(Float)
    arpu_1m: Mapped[float | None] = mapped_column(Float)
