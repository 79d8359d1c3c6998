"""Campaigns.

Revision ID: 0004_campaigns
Revises: 0003_surveys_sms
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0004_campaigns"
down_revision: str | Sequence[str] | None = "0003_surveys_sms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision (filled in with its domain's tables)."""


def downgrade() -> None:
    """Revert this revision."""
