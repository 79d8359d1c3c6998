"""Directory (LDAP) login: where a user's account comes from, and its directory entry.

Revision ID: 0024_directory_login
Revises: 0023_daily_runs
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_directory_login"
down_revision: str | Sequence[str] | None = "0023_daily_runs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``users.auth_source`` ('local' | 'ldap', default 'local'), ``users.directory_dn``
    (the entry an LDAP user last logged in as; NULL for local accounts) and
    ``users.directory_refused`` (deactivated because the directory refused the account)."""
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column(
                "auth_source",
                sa.String(length=8),
                nullable=False,
                server_default=sa.text("'local'"),
            )
        )
        batch_op.add_column(sa.Column("directory_dn", sa.String(length=512), nullable=True))
        batch_op.add_column(
            sa.Column(
                "directory_refused",
                sa.Boolean(),
                nullable=False,
                server_default=sa.text("false"),
            )
        )
        batch_op.create_check_constraint("auth_source", "auth_source IN ('local', 'ldap')")


def downgrade() -> None:
    """Drop the three columns and the check constraint."""
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint(op.f("ck_users_auth_source"), type_="check")
        batch_op.drop_column("directory_refused")
        batch_op.drop_column("directory_dn")
        batch_op.drop_column("auth_source")
