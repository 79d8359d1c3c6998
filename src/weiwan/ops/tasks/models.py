"""Tasks (任务), their transfers, and who manages which customer."""

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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from weiwan.ops.base import Base, UTCDateTime, utcnow

TASK_STATUSES = ("open", "done", "closed", "cancelled", "expired")
TASK_SOURCES = ("decision", "campaign", "alert", "manual", "arrival")
MANAGER_KINDS = ("account_manager", "retention_manager", "outbound_manager")


class CustomerAssignment(Base):
    """A customer's manager of one kind (客户经理 / 挽留经理 / 外呼经理)."""

    __tablename__ = "customer_assignments"
    __table_args__ = (CheckConstraint(f"kind IN {MANAGER_KINDS!r}", name="kind"),)

    subscriber_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Task(Base):
    """One piece of work on one subscriber in one channel.

    ``assignee_id`` NULL means the task waits in the queue of (``branch_id``, ``channel``).
    ``origin`` makes creation idempotent: the same decision day, campaign or alert never creates
    a second task for the same subscriber.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(f"status IN {TASK_STATUSES!r}", name="status"),
        CheckConstraint(f"source IN {TASK_SOURCES!r}", name="source"),
        UniqueConstraint("origin", "subscriber_id", "channel"),
        Index("ix_tasks_assignee_status", "assignee_id", "status"),
        Index("ix_tasks_queue", "branch_id", "channel", "status"),
        Index("ix_tasks_subscriber_status", "subscriber_id", "status"),
        # a channel's tasks of one day (the real-time share of its capacity)
        Index("ix_tasks_channel_created", "channel", "created_at"),
        Index("ix_tasks_closed", "closed_at"),  # a day's closed tasks (/metrics)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(96))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    policy_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    title_zh: Mapped[str] = mapped_column(String(200), default="")
    title_en: Mapped[str] = mapped_column(String(200), default="")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_reason: Mapped[str | None] = mapped_column(String(200))


class TaskTransfer(Base):
    """A task moved to another agent, store (branch) or queue; history is never rewritten."""

    __tablename__ = "task_transfers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    from_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    to_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    to_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    from_channel: Mapped[str] = mapped_column(String(32))
    to_channel: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
