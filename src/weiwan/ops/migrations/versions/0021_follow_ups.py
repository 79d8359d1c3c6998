"""Durable timers of the event rules' follow-up steps (跟进).

Revision ID: 0021_follow_ups
Revises: 0020_ledger
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_follow_ups"
down_revision: str | Sequence[str] | None = "0020_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = "status IN ('waiting', 'done', 'blocked', 'accepted', 'lost', 'stopped')"


def upgrade() -> None:
    """Create ``event_follow_ups``."""
    op.create_table(
        "event_follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "event_record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("subscriber_id", sa.String(length=32), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_STATUSES, name=op.f("ck_event_follow_ups_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_follow_ups")),
        sa.UniqueConstraint(
            "event_record_id", "step", name=op.f("uq_event_follow_ups_event_record_id_step")
        ),
    )
    op.create_index("ix_event_follow_ups_due", "event_follow_ups", ["status", "due_at"])
    op.create_index(
        "ix_event_follow_ups_subscriber", "event_follow_ups", ["subscriber_id", "status"]
    )


def downgrade() -> None:
    """Drop ``event_follow_ups``."""
    op.drop_table("event_follow_ups")
