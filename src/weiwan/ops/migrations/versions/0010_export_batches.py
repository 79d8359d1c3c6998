"""Data-quality correction export batches, so a correction file can be downloaded again.

Revision ID: 0010_export_batches
Revises: 0009_data_quality
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_export_batches"
down_revision: str | Sequence[str] | None = "0009_data_quality"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_B = "data_quality_export_batches"
_I = "data_quality_export_items"


def upgrade() -> None:
    """Create ``data_quality_export_batches`` and ``data_quality_export_items``."""
    op.create_table(
        _B,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exported_by", sa.Integer(), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filters", sa.Text(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("withheld", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["exported_by"],
            ["users.id"],
            name=op.f("fk_data_quality_export_batches_exported_by_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_quality_export_batches")),
    )
    op.create_index(op.f("ix_data_quality_export_batches_exported_by"), _B, ["exported_by"])
    op.create_index("ix_data_quality_export_batches_exported_at", _B, ["exported_at"])
    op.create_table(
        _I,
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            [f"{_B}.id"],
            name=op.f("fk_data_quality_export_items_batch_id_data_quality_export_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["data_quality_reports.id"],
            name=op.f("fk_data_quality_export_items_report_id_data_quality_reports"),
        ),
        sa.PrimaryKeyConstraint("batch_id", "report_id", name=op.f("pk_data_quality_export_items")),
        sa.UniqueConstraint("report_id", name=op.f("uq_data_quality_export_items_report_id")),
    )


def downgrade() -> None:
    """Drop the export batch tables."""
    op.drop_table(_I)
    op.drop_index("ix_data_quality_export_batches_exported_at", table_name=_B)
    op.drop_index(op.f("ix_data_quality_export_batches_exported_by"), table_name=_B)
    op.drop_table(_B)
