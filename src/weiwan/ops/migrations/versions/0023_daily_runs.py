"""The daily run's history: runs and their steps.

Revision ID: 0023_daily_runs
Revises: 0022_day_indexes
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_daily_runs"
down_revision: str | Sequence[str] | None = "0022_day_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``daily_runs`` and ``daily_run_steps``."""
    op.create_table(
        "daily_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snapshot_date", sa.Date(), nullable=False),
        sa.Column("delivery", sa.String(length=500), nullable=False),
        sa.Column("host", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failed_step", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("warnings", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'partly_failed')",
            name=op.f("ck_daily_runs_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daily_runs")),
    )
    op.create_index("ix_daily_runs_snapshot", "daily_runs", ["snapshot_date", "id"])
    op.create_table(
        "daily_run_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('done', 'failed', 'skipped')", name=op.f("ck_daily_run_steps_status")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["daily_runs.id"], name=op.f("fk_daily_run_steps_run_id_daily_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daily_run_steps")),
    )
    op.create_index("ix_daily_run_steps_run_id", "daily_run_steps", ["run_id"])


def downgrade() -> None:
    """Drop them."""
    op.drop_table("daily_run_steps")
    op.drop_table("daily_runs")
