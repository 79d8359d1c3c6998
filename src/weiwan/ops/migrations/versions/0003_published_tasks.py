"""Published data (customer view, decisions, policies), tasks and contacts.

Revision ID: 0003_published_tasks
Revises: 0002_campaigns
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_published_tasks"
down_revision: str | Sequence[str] | None = "0002_campaigns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "do_not_disturb",
        sa.Column("subscriber_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_do_not_disturb_created_by_users")
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "channel", name=op.f("pk_do_not_disturb")),
    )
    op.create_table(
        "config_documents",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_config_documents_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_config_documents")),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snapshot_date", sa.Date(), nullable=False),
        sa.Column("subscriber_id", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=True),
        sa.Column("trigger_kind", sa.String(length=16), nullable=True),
        sa.Column("holdout", sa.Boolean(), nullable=False),
        sa.Column("action", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("policy_id", sa.String(length=64), nullable=True),
        sa.Column("offer_type", sa.String(length=32), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("churn_probability", sa.Float(), nullable=True),
        sa.Column("driver", sa.String(length=32), nullable=True),
        sa.Column("uplift", sa.Float(), nullable=True),
        sa.Column("value_saved", sa.Float(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("expected_value", sa.Float(), nullable=True),
        sa.Column("why_zh", sa.Text(), nullable=True),
        sa.Column("why_en", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
    )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_decisions_day_subscriber", ["snapshot_date", "subscriber_id"], unique=False
        )

    op.create_table(
        "policies",
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("offer_type", sa.String(length=32), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("min_spend", sa.Float(), nullable=False),
        sa.Column("total_cost", sa.Float(), nullable=False),
        sa.Column("benefit_value", sa.Float(), nullable=True),
        sa.Column("commitment_months", sa.Integer(), nullable=False),
        sa.Column("channels", sa.String(length=200), nullable=False),
        sa.Column("script_zh", sa.Text(), nullable=False),
        sa.Column("script_en", sa.Text(), nullable=False),
        sa.Column("approval", sa.String(length=16), nullable=False),
        sa.Column("budget_count", sa.Integer(), nullable=True),
        sa.Column("budget_money", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("policy_id", name=op.f("pk_policies")),
    )
    op.create_table(
        "publications",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("snapshot_date", sa.Date(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "snapshot_date", name=op.f("pk_publications")),
    )
    op.create_table(
        "subscriber_locks",
        sa.Column("subscriber_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("subscriber_id", name=op.f("pk_subscriber_locks")),
    )
    op.create_table(
        "customer_view",
        sa.Column("subscriber_id", sa.String(length=32), nullable=False),
        sa.Column("snapshot_date", sa.Date(), nullable=False),
        sa.Column("msisdn", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("id_number", sa.String(length=32), nullable=True),
        sa.Column("gender", sa.String(length=1), nullable=True),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("branch_code", sa.String(length=32), nullable=True),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("brand", sa.String(length=32), nullable=True),
        sa.Column("payment_type", sa.String(length=16), nullable=True),
        sa.Column("plan_id", sa.String(length=32), nullable=True),
        sa.Column("plan_monthly_fee", sa.Float(), nullable=True),
        sa.Column("join_date", sa.Date(), nullable=True),
        sa.Column("tenure_months", sa.Integer(), nullable=True),
        sa.Column("contract_end_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("star_level", sa.Integer(), nullable=True),
        sa.Column("account_manager", sa.String(length=64), nullable=True),
        sa.Column("arpu_1m", sa.Float(), nullable=True),
        sa.Column("value_tier", sa.String(length=32), nullable=True),
        sa.Column("lifecycle_stage", sa.String(length=32), nullable=True),
        sa.Column("clv_quadrant", sa.String(length=32), nullable=True),
        sa.Column("future_value", sa.Float(), nullable=True),
        sa.Column("churn_probability", sa.Float(), nullable=True),
        sa.Column("risk_band", sa.String(length=16), nullable=True),
        sa.Column("model_version", sa.String(length=16), nullable=True),
        sa.Column("reasons", sa.Text(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=True),
        sa.Column("eligible_policies", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_customer_view_branch_id_branches")
        ),
        sa.PrimaryKeyConstraint("subscriber_id", name=op.f("pk_customer_view")),
    )
    with op.batch_alter_table("customer_view", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_view_account_manager"), ["account_manager"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_customer_view_branch_id"), ["branch_id"], unique=False)
        batch_op.create_index(
            "ix_customer_view_branch_risk", ["branch_id", "risk_band"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_customer_view_msisdn"), ["msisdn"], unique=False)

    op.create_table(
        "customer_assignments",
        sa.Column("subscriber_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('account_manager', 'retention_manager', 'outbound_manager')",
            name=op.f("ck_customer_assignments_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_customer_assignments_user_id_users")
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "kind", name=op.f("pk_customer_assignments")),
    )
    with op.batch_alter_table("customer_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_assignments_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=96), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("policy_id", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("title_zh", sa.String(length=200), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_reason", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "source IN ('decision', 'campaign', 'alert', 'manual', 'arrival')",
            name=op.f("ck_tasks_source"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'done', 'closed', 'cancelled', 'expired')",
            name=op.f("ck_tasks_status"),
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_tasks_assignee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_tasks_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_tasks_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint(
            "origin", "subscriber_id", "channel", name=op.f("uq_tasks_origin_subscriber_id_channel")
        ),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_assignee_status", ["assignee_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index("ix_tasks_queue", ["branch_id", "channel", "status"], unique=False)
        batch_op.create_index(
            "ix_tasks_subscriber_status", ["subscriber_id", "status"], unique=False
        )

    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("blocked_reason", sa.String(length=64), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("policy_id", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('sent', 'blocked')", name=op.f("ck_contacts_status")),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_contacts_task_id_tasks")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_contacts_user_id_users")),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_contacts_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index("ix_contacts_subscriber_at", ["subscriber_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_contacts_task_id"), ["task_id"], unique=False)
        batch_op.create_index("ix_contacts_user_at", ["user_id", "at"], unique=False)

    op.create_table(
        "task_transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=False),
        sa.Column("from_user_id", sa.Integer(), nullable=True),
        sa.Column("to_user_id", sa.Integer(), nullable=True),
        sa.Column("from_branch_id", sa.Integer(), nullable=True),
        sa.Column("to_branch_id", sa.Integer(), nullable=True),
        sa.Column("from_channel", sa.String(length=32), nullable=False),
        sa.Column("to_channel", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_user_id"], ["users.id"], name=op.f("fk_task_transfers_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["from_branch_id"],
            ["branches.id"],
            name=op.f("fk_task_transfers_from_branch_id_branches"),
        ),
        sa.ForeignKeyConstraint(
            ["from_user_id"], ["users.id"], name=op.f("fk_task_transfers_from_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_task_transfers_task_id_tasks")
        ),
        sa.ForeignKeyConstraint(
            ["to_branch_id"], ["branches.id"], name=op.f("fk_task_transfers_to_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["to_user_id"], ["users.id"], name=op.f("fk_task_transfers_to_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_transfers")),
    )
    with op.batch_alter_table("task_transfers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_transfers_task_id"), ["task_id"], unique=False)

    op.create_table(
        "acceptances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.String(length=32), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'cancelled', 'expired')", name=op.f("ck_acceptances_status")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_acceptances_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_acceptances_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_acceptances_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acceptances")),
    )
    with op.batch_alter_table("acceptances", schema=None) as batch_op:
        batch_op.create_index("ix_acceptances_subscriber_at", ["subscriber_id", "at"], unique=False)
        batch_op.create_index(
            "uq_acceptances_active",
            ["subscriber_id", "policy_id"],
            unique=True,
            postgresql_where=sa.text("status = 'active'"),
            sqlite_where=sa.text("status = 'active'"),
        )

    op.create_table(
        "contact_outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("refusal_reason", sa.String(length=200), nullable=True),
        sa.Column("call_back_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("policy_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('connected', 'not_reached', 'refused', 'accepted', 'call_back', "
            "'wrong_number')",
            name=op.f("ck_contact_outcomes_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_contact_outcomes_contact_id_contacts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_outcomes")),
    )
    with op.batch_alter_table("contact_outcomes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_outcomes_contact_id"), ["contact_id"], unique=False
        )

    op.create_table(
        "quality_inspections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("inspector_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recording_ref", sa.String(length=300), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comments", sa.Text(), nullable=True),
        sa.CheckConstraint("score BETWEEN 0 AND 100", name=op.f("ck_quality_inspections_score")),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_quality_inspections_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["inspector_id"], ["users.id"], name=op.f("fk_quality_inspections_inspector_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_inspections")),
    )
    with op.batch_alter_table("quality_inspections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quality_inspections_contact_id"), ["contact_id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("quality_inspections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_inspections_contact_id"))

    op.drop_table("quality_inspections")
    with op.batch_alter_table("contact_outcomes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_outcomes_contact_id"))

    op.drop_table("contact_outcomes")
    with op.batch_alter_table("acceptances", schema=None) as batch_op:
        batch_op.drop_index("ix_acceptances_subscriber_at")
        batch_op.drop_index(
            "uq_acceptances_active",
            postgresql_where=sa.text("status = 'active'"),
            sqlite_where=sa.text("status = 'active'"),
        )

    op.drop_table("acceptances")
    with op.batch_alter_table("task_transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_transfers_task_id"))

    op.drop_table("task_transfers")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_user_at")
        batch_op.drop_index(batch_op.f("ix_contacts_task_id"))
        batch_op.drop_index("ix_contacts_subscriber_at")

    op.drop_table("contacts")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_subscriber_status")
        batch_op.drop_index("ix_tasks_queue")
        batch_op.drop_index(batch_op.f("ix_tasks_campaign_id"))
        batch_op.drop_index("ix_tasks_assignee_status")

    op.drop_table("tasks")
    with op.batch_alter_table("customer_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_assignments_user_id"))

    op.drop_table("customer_assignments")
    with op.batch_alter_table("customer_view", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_view_msisdn"))
        batch_op.drop_index("ix_customer_view_branch_risk")
        batch_op.drop_index(batch_op.f("ix_customer_view_branch_id"))
        batch_op.drop_index(batch_op.f("ix_customer_view_account_manager"))

    op.drop_table("customer_view")
    op.drop_table("subscriber_locks")
    op.drop_table("publications")
    op.drop_table("policies")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_decisions_day_subscriber")

    op.drop_table("decisions")
    op.drop_table("config_documents")
    op.drop_table("do_not_disturb")
