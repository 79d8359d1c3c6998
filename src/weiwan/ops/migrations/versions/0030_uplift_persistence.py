"""How long a learned effect holds, and over what window it was measured: uplift_levels.persistence
and window_months.

Revision ID: 0030_uplift_persistence
Revises: 0029_uplift_levels
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030_uplift_persistence"
down_revision: str | Sequence[str] | None = "0029_uplift_levels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``uplift_levels.persistence`` and ``window_months`` (0 and 3 for the days published
    before: valued over the 3-month outcome window, as they were)."""
    with op.batch_alter_table("uplift_levels") as batch:
        batch.add_column(sa.Column("persistence", sa.Float(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("window_months", sa.Integer(), nullable=False, server_default="3")
        )


def downgrade() -> None:
    """Drop ``uplift_levels.persistence`` and ``window_months``."""
    with op.batch_alter_table("uplift_levels") as batch:
        batch.drop_column("window_months")
        batch.drop_column("persistence")
