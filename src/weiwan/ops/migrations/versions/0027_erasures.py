"""Erasures of subscribers' personal data and the salt of their pseudonyms (PIPL).

Revision ID: 0027_erasures
Revises: 0026_run_alerts
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_erasures"
down_revision: str | Sequence[str] | None = "0026_run_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``erasures`` and ``pseudonym_salt``."""
    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("pseudonym", sa.String(length=32), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_by", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rows", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["erased_by"], ["users.id"], name=op.f("fk_erasures_erased_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
        sa.UniqueConstraint("digest", name=op.f("uq_erasures_digest")),
        sa.UniqueConstraint("pseudonym", name=op.f("uq_erasures_pseudonym")),
    )
    op.create_table(
        "pseudonym_salt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pseudonym_salt")),
    )


def downgrade() -> None:
    """Drop ``pseudonym_salt`` and ``erasures``."""
    op.drop_table("pseudonym_salt")
    op.drop_table("erasures")
