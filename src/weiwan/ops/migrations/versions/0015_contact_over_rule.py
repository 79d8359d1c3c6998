"""A contact that took place although a contact rule advised against it keeps that rule.

Revision ID: 0015_contact_over_rule
Revises: 0014_report_inputs
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_contact_over_rule"
down_revision: str | Sequence[str] | None = "0014_report_inputs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``contacts.over_rule``: the contact rule a recorded call went over (NULL: none)."""
    with op.batch_alter_table("contacts") as batch_op:
        batch_op.add_column(sa.Column("over_rule", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Drop ``contacts.over_rule``."""
    with op.batch_alter_table("contacts") as batch_op:
        batch_op.drop_column("over_rule")
