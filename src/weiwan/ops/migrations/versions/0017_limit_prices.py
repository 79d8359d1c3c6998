"""The shadow prices of the limits that bound the day's decisions (limit_prices).

Revision ID: 0017_limit_prices
Revises: 0016_transition_notes
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_limit_prices"
down_revision: str | Sequence[str] | None = "0016_transition_notes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``limit_prices`` (snapshot date, limit kind, limit name → yuan)."""
    op.create_table(
        "limit_prices",
        sa.Column("snapshot_date", sa.Date(), nullable=False),
        sa.Column("limit_kind", sa.String(length=16), nullable=False),
        sa.Column("limit_name", sa.String(length=64), nullable=False),
        sa.Column("yuan", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_date", "limit_kind", "limit_name"),
    )


def downgrade() -> None:
    """Drop ``limit_prices``."""
    op.drop_table("limit_prices")
