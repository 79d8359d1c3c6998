"""Weekly and monthly reports and the churn analysis report, as published.

Revision ID: 0008_period_reports
Revises: 0007_appraisal
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_period_reports"
down_revision: str | Sequence[str] | None = "0007_appraisal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``period_reports``."""
    op.create_table(
        "period_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=10), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("snapshot_date", sa.Date(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_period_reports_branch_id_branches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_period_reports")),
        sa.UniqueConstraint("kind", "key", "scope", name="uq_period_reports_kind_key_scope"),
    )
    op.create_index("ix_period_reports_branch", "period_reports", ["branch_id"])


def downgrade() -> None:
    """Drop ``period_reports``."""
    op.drop_index("ix_period_reports_branch", table_name="period_reports")
    op.drop_table("period_reports")
