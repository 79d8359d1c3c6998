"""Campaigns: plans, state history, approval chains, members.

Revision ID: 0002_campaigns
Revises: 0001_org
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_campaigns"
down_revision: str | Sequence[str] | None = "0001_org"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = (
    "draft",
    "rehearsed",
    "submitted",
    "approved",
    "rejected",
    "running",
    "completed",
    "evaluated",
)


def upgrade() -> None:
    """Create the campaign tables and the campaign foreign keys of tasks and contacts."""
    op.create_table(
        "approval_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_approval_steps_branch_id_branches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_steps")),
        sa.UniqueConstraint("branch_id", "level", name=op.f("uq_approval_steps_branch_id_level")),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("target_filter", sa.Text(), nullable=False),
        sa.Column("policy_ids", sa.Text(), nullable=False),
        sa.Column("channels", sa.Text(), nullable=False),
        sa.Column("script_zh", sa.Text(), nullable=False),
        sa.Column("script_en", sa.Text(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("holdout_share", sa.Float(), nullable=False),
        sa.Column("questionnaire_id", sa.Integer(), nullable=True),
        sa.Column("cloned_from", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approval_level", sa.Integer(), nullable=True),
        sa.Column("approval_chain", sa.Text(), nullable=True),
        sa.Column("rehearsal", sa.Text(), nullable=True),
        sa.Column("start_summary", sa.Text(), nullable=True),
        sa.Column("evaluation", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"status IN {STATUSES!r}", name=op.f("ck_campaigns_status")),
        sa.CheckConstraint(
            "holdout_share > 0 AND holdout_share <= 0.5",
            name=op.f("ck_campaigns_holdout_share"),
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_campaigns_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["cloned_from"], ["campaigns.id"], name=op.f("fk_campaigns_cloned_from_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_campaigns_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index("ix_campaigns_branch_status", ["branch_id", "status"], unique=False)

    op.create_table(
        "campaign_members",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.String(length=32), nullable=False),
        sa.Column("arm", sa.String(length=8), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("churn_probability", sa.Float(), nullable=True),
        sa.Column("future_value", sa.Float(), nullable=True),
        sa.Column("arpu_1m", sa.Float(), nullable=True),
        sa.CheckConstraint("arm IN ('treated', 'holdout')", name=op.f("ck_campaign_members_arm")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_members_campaign_id_campaigns"),
        ),
        sa.PrimaryKeyConstraint("campaign_id", "subscriber_id", name=op.f("pk_campaign_members")),
    )
    with op.batch_alter_table("campaign_members", schema=None) as batch_op:
        batch_op.create_index("ix_campaign_members_subscriber_id", ["subscriber_id"], unique=False)

    op.create_table(
        "campaign_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_transitions_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_campaign_transitions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_transitions")),
    )
    with op.batch_alter_table("campaign_transitions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaign_transitions_campaign_id"), ["campaign_id"], unique=False
        )


def downgrade() -> None:
    """Drop the campaign foreign keys and tables."""
    with op.batch_alter_table("campaign_transitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_transitions_campaign_id"))
    op.drop_table("campaign_transitions")
    with op.batch_alter_table("campaign_members", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_members_subscriber_id")
    op.drop_table("campaign_members")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_campaigns_branch_status")
    op.drop_table("campaigns")
    op.drop_table("approval_steps")
