"""An index for the customer-lookup rate limit: a user's recent audit rows of one action.

Revision ID: 0013_lookup_audit
Revises: 0012_sessions
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013_lookup_audit"
down_revision: str | Sequence[str] | None = "0012_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX = "ix_audit_events_user_action_at"


def upgrade() -> None:
    """Index ``audit_events`` by (user_id, action, at): one range count per lookup."""
    op.create_index(_INDEX, "audit_events", ["user_id", "action", "at"])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index(_INDEX, table_name="audit_events")
