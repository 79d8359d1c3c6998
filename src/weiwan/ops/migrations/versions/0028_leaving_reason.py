"""The customer view's likeliest leaving reason, its probability and every reason's (离网原因).

Revision ID: 0028_leaving_reason
Revises: 0027_erasures
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028_leaving_reason"
down_revision: str | Sequence[str] | None = "0027_erasures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``customer_view.leaving_reason``, ``leaving_reason_share`` and ``leaving_mix`` (NULL
    until the next publication of a model with a leaving-reason classifier)."""
    with op.batch_alter_table("customer_view", schema=None) as batch_op:
        batch_op.add_column(sa.Column("leaving_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("leaving_reason_share", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("leaving_mix", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop the three columns."""
    with op.batch_alter_table("customer_view", schema=None) as batch_op:
        batch_op.drop_column("leaving_mix")
        batch_op.drop_column("leaving_reason_share")
        batch_op.drop_column("leaving_reason")
