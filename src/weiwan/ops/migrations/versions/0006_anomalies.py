"""The anomaly pool (异常库).

Revision ID: 0006_anomalies
Revises: 0005_reports
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_anomalies"
down_revision: str | Sequence[str] | None = "0005_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("new", "assigned", "handled", "dismissed")
CATEGORIES = ("billing", "disconnection")


def upgrade() -> None:
    """Create ``anomalies`` and ``anomaly_changes``."""
    op.create_table(
        "anomalies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.String(length=32), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("period_key", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("detected_on", sa.Date(), nullable=False),
        sa.Column("branch_code", sa.String(length=32), nullable=True),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("value_tier", sa.String(length=32), nullable=True),
        sa.Column("account_manager", sa.String(length=64), nullable=True),
        sa.Column("manager_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(f"status IN {STATUSES!r}", name=op.f("ck_anomalies_status")),
        sa.CheckConstraint(f"category IN {CATEGORIES!r}", name=op.f("ck_anomalies_category")),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_anomalies_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["manager_id"], ["users.id"], name=op.f("fk_anomalies_manager_id_users")
        ),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_anomalies_task_id_tasks")),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_anomalies_assignee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_anomalies_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomalies")),
        sa.UniqueConstraint(
            "subscriber_id",
            "rule_id",
            "period_key",
            name=op.f("uq_anomalies_subscriber_id_rule_id_period_key"),
        ),
    )
    op.create_index("ix_anomalies_branch_status", "anomalies", ["branch_id", "status"])
    op.create_index("ix_anomalies_detected_on", "anomalies", ["detected_on"])
    op.create_index(op.f("ix_anomalies_manager_id"), "anomalies", ["manager_id"])
    op.create_index(op.f("ix_anomalies_assignee_id"), "anomalies", ["assignee_id"])
    op.create_table(
        "anomaly_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("anomaly_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["anomaly_id"], ["anomalies.id"], name=op.f("fk_anomaly_changes_anomaly_id_anomalies")
        ),
        sa.ForeignKeyConstraint(
            ["by_user_id"], ["users.id"], name=op.f("fk_anomaly_changes_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_anomaly_changes_task_id_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomaly_changes")),
    )
    op.create_index(op.f("ix_anomaly_changes_anomaly_id"), "anomaly_changes", ["anomaly_id"])


def downgrade() -> None:
    """Drop the two tables."""
    op.drop_index(op.f("ix_anomaly_changes_anomaly_id"), table_name="anomaly_changes")
    op.drop_table("anomaly_changes")
    op.drop_index(op.f("ix_anomalies_assignee_id"), table_name="anomalies")
    op.drop_index(op.f("ix_anomalies_manager_id"), table_name="anomalies")
    op.drop_index("ix_anomalies_detected_on", table_name="anomalies")
    op.drop_index("ix_anomalies_branch_status", table_name="anomalies")
    op.drop_table("anomalies")
