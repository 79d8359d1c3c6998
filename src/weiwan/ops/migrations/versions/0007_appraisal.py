"""Weekly plans, daily checks, stored scorecards and published complaints (绩效考核).

Revision ID: 0007_appraisal
Revises: 0006_anomalies
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_appraisal"
down_revision: str | Sequence[str] | None = "0006_anomalies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``weekly_plans``, ``daily_checks``, ``scorecard_months``, ``scorecards`` and
    ``published_complaints``."""
    op.create_table(
        "weekly_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("goals", sa.Text(), nullable=False),
        sa.Column("target_customers", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("comment_by", sa.Integer(), nullable=True),
        sa.Column("commented_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_weekly_plans_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["comment_by"], ["users.id"], name=op.f("fk_weekly_plans_comment_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weekly_plans")),
        sa.UniqueConstraint("user_id", "week", name=op.f("uq_weekly_plans_user_id_week")),
    )
    op.create_index(op.f("ix_weekly_plans_user_id"), "weekly_plans", ["user_id"])
    op.create_table(
        "daily_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("checker_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("records_checked", sa.Integer(), nullable=False),
        sa.Column("findings", sa.Text(), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.CheckConstraint(
            "result IN ('ok', 'needs_correction')", name=op.f("ck_daily_checks_result")
        ),
        sa.CheckConstraint("records_checked >= 0", name=op.f("ck_daily_checks_records_checked")),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_daily_checks_agent_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["checker_id"], ["users.id"], name=op.f("fk_daily_checks_checker_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daily_checks")),
        sa.UniqueConstraint(
            "agent_id", "checker_id", "day", name=op.f("uq_daily_checks_agent_id_checker_id_day")
        ),
    )
    op.create_index("ix_daily_checks_agent_day", "daily_checks", ["agent_id", "day"])
    op.create_table(
        "scorecard_months",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("closed_at", TS, nullable=False),
        sa.Column("subjects", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_scorecard_months")),
    )
    op.create_table(
        "scorecards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "level IN ('agent', 'team', 'branch')", name=op.f("ck_scorecards_level")
        ),
        sa.ForeignKeyConstraint(
            ["month"],
            ["scorecard_months.month"],
            name=op.f("fk_scorecards_month_scorecard_months"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecards")),
        sa.UniqueConstraint(
            "month", "level", "subject_id", name=op.f("uq_scorecards_month_level_subject_id")
        ),
    )
    op.create_index("ix_scorecards_subject", "scorecards", ["level", "subject_id"])
    op.create_table(
        "published_complaints",
        sa.Column("complaint_id", sa.String(length=64), nullable=False),
        sa.Column("subscriber_id", sa.String(length=32), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("branch_code", sa.String(length=64), nullable=True),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_published_complaints_branch_id_branches")
        ),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_published_complaints")),
    )
    op.create_index(
        "ix_published_complaints_subscriber_at", "published_complaints", ["subscriber_id", "at"]
    )
    op.create_index(
        op.f("ix_published_complaints_branch_id"), "published_complaints", ["branch_id"]
    )


def downgrade() -> None:
    """Drop the five tables."""
    op.drop_index(op.f("ix_published_complaints_branch_id"), table_name="published_complaints")
    op.drop_index("ix_published_complaints_subscriber_at", table_name="published_complaints")
    op.drop_table("published_complaints")
    op.drop_index("ix_scorecards_subject", table_name="scorecards")
    op.drop_table("scorecards")
    op.drop_table("scorecard_months")
    op.drop_index("ix_daily_checks_agent_day", table_name="daily_checks")
    op.drop_table("daily_checks")
    op.drop_index(op.f("ix_weekly_plans_user_id"), table_name="weekly_plans")
    op.drop_table("weekly_plans")
