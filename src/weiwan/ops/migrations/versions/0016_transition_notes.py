"""What the system says on a campaign transition, as data the pages put into words.

Revision ID: 0016_transition_notes
Revises: 0015_contact_over_rule
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_transition_notes"
down_revision: str | Sequence[str] | None = "0015_contact_over_rule"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``campaign_transitions.note``: ``{"kind": ..., <figures>}`` as JSON (NULL: none);
    ``comment`` keeps only what a person wrote."""
    with op.batch_alter_table("campaign_transitions") as batch_op:
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop ``campaign_transitions.note``."""
    with op.batch_alter_table("campaign_transitions") as batch_op:
        batch_op.drop_column("note")
