"""Data-quality reports from contacts (数据质量反馈).

Revision ID: 0009_data_quality
Revises: 0008_period_reports
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_data_quality"
down_revision: str | Sequence[str] | None = "0008_period_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_T = "data_quality_reports"
_OPEN = "status IN ('new', 'confirmed')"
_STATUSES = "status IN ('new', 'confirmed', 'rejected', 'exported')"
_FIELDS = (
    "field IN ('msisdn', 'name', 'id_number', 'plan_id', 'account_manager', 'branch', 'other')"
)


def upgrade() -> None:
    """Create ``data_quality_reports``."""
    op.create_table(
        _T,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.String(length=32), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("source_table", sa.String(length=32), nullable=False),
        sa.Column("source_column", sa.String(length=32), nullable=True),
        sa.Column("data_value", sa.String(length=200), nullable=True),
        sa.Column("reported_value", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("reported_by", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("branch_code", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("exported_by", sa.Integer(), nullable=True),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_STATUSES, name=op.f("ck_data_quality_reports_status")),
        sa.CheckConstraint(_FIELDS, name=op.f("ck_data_quality_reports_field")),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_data_quality_reports_contact_id_contacts"),
        ),
        sa.ForeignKeyConstraint(
            ["reported_by"], ["users.id"], name=op.f("fk_data_quality_reports_reported_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_data_quality_reports_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["users.id"], name=op.f("fk_data_quality_reports_reviewed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["exported_by"], ["users.id"], name=op.f("fk_data_quality_reports_exported_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_quality_reports")),
    )
    op.create_index("ix_data_quality_reports_branch_status", _T, ["branch_id", "status"])
    op.create_index("ix_data_quality_reports_reported_at", _T, ["reported_at"])
    op.create_index(op.f("ix_data_quality_reports_subscriber_id"), _T, ["subscriber_id"])
    op.create_index(op.f("ix_data_quality_reports_contact_id"), _T, ["contact_id"])
    op.create_index(op.f("ix_data_quality_reports_reported_by"), _T, ["reported_by"])
    op.create_index(
        "uq_data_quality_reports_open",
        _T,
        ["subscriber_id", "field", "reported_value"],
        unique=True,
        postgresql_where=sa.text(_OPEN),
        sqlite_where=sa.text(_OPEN),
    )


def downgrade() -> None:
    """Drop ``data_quality_reports``."""
    op.drop_index(
        "uq_data_quality_reports_open",
        table_name=_T,
        postgresql_where=sa.text(_OPEN),
        sqlite_where=sa.text(_OPEN),
    )
    op.drop_index(op.f("ix_data_quality_reports_reported_by"), table_name=_T)
    op.drop_index(op.f("ix_data_quality_reports_contact_id"), table_name=_T)
    op.drop_index(op.f("ix_data_quality_reports_subscriber_id"), table_name=_T)
    op.drop_index("ix_data_quality_reports_reported_at", table_name=_T)
    op.drop_index("ix_data_quality_reports_branch_status", table_name=_T)
    op.drop_table(_T)
