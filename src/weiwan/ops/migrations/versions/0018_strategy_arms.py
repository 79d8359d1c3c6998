"""The champion–challenger evaluation of the strategy arms (strategy_arms).

Revision ID: 0018_strategy_arms
Revises: 0017_limit_prices
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_strategy_arms"
down_revision: str | Sequence[str] | None = "0017_limit_prices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``strategy_arms`` (snapshot date, arm → the arm's figures)."""
    op.create_table(
        "strategy_arms",
        sa.Column("snapshot_date", sa.Date(), nullable=False),
        sa.Column("arm", sa.String(length=32), nullable=False),
        sa.Column("champion", sa.Boolean(), nullable=False),
        sa.Column("share", sa.Float(), nullable=True),
        sa.Column("first_day", sa.Date(), nullable=True),
        sa.Column("last_day", sa.Date(), nullable=True),
        sa.Column("subscribers", sa.Integer(), nullable=False),
        sa.Column("churned", sa.Integer(), nullable=False),
        sa.Column("churn_rate", sa.Float(), nullable=True),
        sa.Column("churn_low", sa.Float(), nullable=True),
        sa.Column("churn_high", sa.Float(), nullable=True),
        sa.Column("holdout_subscribers", sa.Integer(), nullable=False),
        sa.Column("holdout_churned", sa.Integer(), nullable=False),
        sa.Column("holdout_churn_rate", sa.Float(), nullable=True),
        sa.Column("uplift", sa.Float(), nullable=True),
        sa.Column("uplift_low", sa.Float(), nullable=True),
        sa.Column("uplift_high", sa.Float(), nullable=True),
        sa.Column("uplift_significant", sa.Boolean(), nullable=False),
        sa.Column("saves", sa.Float(), nullable=True),
        sa.Column("acted", sa.Integer(), nullable=False),
        sa.Column("spend", sa.Float(), nullable=False),
        sa.Column("cost_per_save", sa.Float(), nullable=True),
        sa.Column("gain", sa.Float(), nullable=True),
        sa.Column("gain_low", sa.Float(), nullable=True),
        sa.Column("gain_high", sa.Float(), nullable=True),
        sa.Column("p_value", sa.Float(), nullable=True),
        sa.Column("significant", sa.Boolean(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_date", "arm"),
    )


def downgrade() -> None:
    """Drop ``strategy_arms``."""
    op.drop_table("strategy_arms")
