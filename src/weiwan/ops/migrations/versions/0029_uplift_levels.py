"""What the outcomes taught the decisions per offer type (uplift_levels).

Revision ID: 0029_uplift_levels
Revises: 0028_leaving_reason
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029_uplift_levels"
down_revision: str | Sequence[str] | None = "0028_leaving_reason"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``uplift_levels`` (snapshot date, offer type → level of its prior, evidence)."""
    op.create_table(
        "uplift_levels",
        sa.Column("snapshot_date", sa.Date(), nullable=False),
        sa.Column("offer_type", sa.String(length=32), nullable=False),
        sa.Column("level", sa.Float(), nullable=False),
        sa.Column("scale", sa.Float(), nullable=False),
        sa.Column("tree_weight", sa.Float(), nullable=False),
        sa.Column("prior_uplift", sa.Float(), nullable=False),
        sa.Column("mean_uplift", sa.Float(), nullable=False),
        sa.Column("treated", sa.Integer(), nullable=False),
        sa.Column("treated_churned", sa.Integer(), nullable=False),
        sa.Column("controls", sa.Integer(), nullable=False),
        sa.Column("controls_churned", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_date", "offer_type"),
    )


def downgrade() -> None:
    """Drop ``uplift_levels``."""
    op.drop_table("uplift_levels")
