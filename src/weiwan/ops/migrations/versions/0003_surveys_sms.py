"""Questionnaires and SMS.

Revision ID: 0003_surveys_sms
Revises: 0002_published_tasks
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0003_surveys_sms"
down_revision: str | Sequence[str] | None = "0002_published_tasks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision (filled in with its domain's tables)."""


def downgrade() -> None:
    """Revert this revision."""
