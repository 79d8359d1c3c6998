"""The live ledger shared by the daily decisions and real-time events: each published day's
grants per policy (filled from the decisions already published) and the online grants; the
indexes that read a customer's grants and a channel's tasks and event SMS of a day.

Revision ID: 0020_ledger
Revises: 0019_events
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_ledger"
down_revision: str | Sequence[str] | None = "0019_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``budget_usage`` (filled from ``decisions``) and ``online_grants``, and index
    ``decisions`` by customer and ``tasks`` by channel and creation time."""
    op.create_table(
        "budget_usage",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("money", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("day", "policy_id", name=op.f("pk_budget_usage")),
    )
    op.execute(
        "INSERT INTO budget_usage (day, policy_id, count, money) "
        "SELECT snapshot_date, policy_id, COUNT(*), COALESCE(SUM(cost), 0) FROM decisions "
        "WHERE action AND NOT holdout AND policy_id IS NOT NULL "
        "GROUP BY snapshot_date, policy_id"
    )
    op.create_table(
        "online_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_record_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.String(length=32), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("expected_value", sa.Float(), nullable=False),
        sa.Column("granted_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_online_grants")),
        sa.UniqueConstraint("event_record_id", name=op.f("uq_online_grants_event_record_id")),
    )
    op.create_index("ix_online_grants_policy_day", "online_grants", ["policy_id", "granted_on"])
    op.create_index(
        "ix_online_grants_subscriber_day", "online_grants", ["subscriber_id", "granted_on"]
    )
    op.create_index("ix_decisions_subscriber_day", "decisions", ["subscriber_id", "snapshot_date"])
    op.create_index("ix_tasks_channel_created", "tasks", ["channel", "created_at"])
    op.create_index("ix_sms_messages_rule_at", "sms_messages", ["alert_rule", "created_at"])


def downgrade() -> None:
    """Drop the tables and indexes."""
    op.drop_index("ix_sms_messages_rule_at", table_name="sms_messages")
    op.drop_index("ix_tasks_channel_created", table_name="tasks")
    op.drop_index("ix_decisions_subscriber_day", table_name="decisions")
    op.drop_table("online_grants")
    op.drop_table("budget_usage")
