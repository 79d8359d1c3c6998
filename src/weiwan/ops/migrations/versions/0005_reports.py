"""Published dashboard figures and the dissatisfied-customer list.

Revision ID: 0005_reports
Revises: 0004_surveys_sms
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_reports"
down_revision: str | Sequence[str] | None = "0004_surveys_sms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``published_metrics`` and ``dissatisfied_customers``."""
    op.create_table(
        "published_metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snapshot_date", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=48), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(length=32), nullable=False),
        sa.Column("member", sa.String(length=100), nullable=False),
        sa.Column("branch_code", sa.String(length=64), nullable=True),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("numerator", sa.Float(), nullable=True),
        sa.Column("denominator", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_published_metrics_branch_id_branches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_published_metrics")),
    )
    op.create_index(
        "ix_published_metrics_metric_period",
        "published_metrics",
        ["metric", "dimension", "period"],
    )
    op.create_index("ix_published_metrics_branch", "published_metrics", ["branch_id"])
    op.create_table(
        "dissatisfied_customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snapshot_date", sa.Date(), nullable=False),
        sa.Column("subscriber_id", sa.String(length=32), nullable=False),
        sa.Column("branch_code", sa.String(length=64), nullable=True),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("survey_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("touchpoint", sa.String(length=32), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"],
            ["branches.id"],
            name=op.f("fk_dissatisfied_customers_branch_id_branches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dissatisfied_customers")),
    )
    op.create_index(
        "ix_dissatisfied_customers_branch_at",
        "dissatisfied_customers",
        ["branch_id", "survey_time"],
    )
    op.create_index(
        op.f("ix_dissatisfied_customers_subscriber_id"),
        "dissatisfied_customers",
        ["subscriber_id"],
    )


def downgrade() -> None:
    """Drop the two tables."""
    op.drop_index(
        op.f("ix_dissatisfied_customers_subscriber_id"), table_name="dissatisfied_customers"
    )
    op.drop_index("ix_dissatisfied_customers_branch_at", table_name="dissatisfied_customers")
    op.drop_table("dissatisfied_customers")
    op.drop_index("ix_published_metrics_branch", table_name="published_metrics")
    op.drop_index("ix_published_metrics_metric_period", table_name="published_metrics")
    op.drop_table("published_metrics")
