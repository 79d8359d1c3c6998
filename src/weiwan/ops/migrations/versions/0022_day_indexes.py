"""Indexes that read one day of contacts, acceptances, closed tasks, SMS and events (the
``/metrics`` figures and the events page) without scanning the tables.

Revision ID: 0022_day_indexes
Revises: 0021_follow_ups
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0022_day_indexes"
down_revision: str | Sequence[str] | None = "0021_follow_ups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (
    ("ix_contacts_at", "contacts", "at"),
    ("ix_acceptances_at", "acceptances", "at"),
    ("ix_tasks_closed", "tasks", "closed_at"),
    ("ix_sms_messages_created", "sms_messages", "created_at"),
    ("ix_events_received", "events", "received_at"),
)


def upgrade() -> None:
    """Create the five indexes."""
    for name, table, column in _INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    """Drop them."""
    for name, table, _column in _INDEXES:
        op.drop_index(name, table_name=table)
