"""Alerts to the administrators about the daily run (failed, late).

Revision ID: 0026_run_alerts
Revises: 0025_consent_ledger
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_run_alerts"
down_revision: str | Sequence[str] | None = "0025_consent_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``run_alerts``."""
    op.create_table(
        "run_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("delivery", sa.Text(), nullable=False),
        sa.CheckConstraint("kind IN ('failed', 'late')", name=op.f("ck_run_alerts_kind")),
        sa.ForeignKeyConstraint(
            ["run_id"], ["daily_runs.id"], name=op.f("fk_run_alerts_run_id_daily_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_alerts")),
        sa.UniqueConstraint("key", name=op.f("uq_run_alerts_key")),
    )


def downgrade() -> None:
    """Drop ``run_alerts``."""
    op.drop_table("run_alerts")
