"""The fingerprint of a published report's inputs, so a publish rebuilds only the periods
whose inputs changed.

Revision ID: 0014_report_inputs
Revises: 0013_lookup_audit
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_report_inputs"
down_revision: str | Sequence[str] | None = "0013_lookup_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``period_reports.inputs`` (NULL for documents published before: rebuilt once)."""
    with op.batch_alter_table("period_reports") as batch_op:
        batch_op.add_column(sa.Column("inputs", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Drop ``period_reports.inputs``."""
    with op.batch_alter_table("period_reports") as batch_op:
        batch_op.drop_column("inputs")
