"""The consent and objection ledger (个人信息保护法), SMS replies and the purpose of SMS templates.

Revision ID: 0025_consent_ledger
Revises: 0024_directory_login
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_consent_ledger"
down_revision: str | Sequence[str] | None = "0024_directory_login"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PURPOSES = "purpose IN ('marketing_sms', 'outbound_call', 'automated_decision')"
_STATES = "state IN ('consent', 'objection')"
_SOURCES = "source IN ('crm_import', 'agent', 'sms_reply', 'self_service')"


def upgrade() -> None:
    """Create ``consent_events`` (every statement), ``consents`` (the current state) and
    ``sms_replies``; add ``sms_templates.purpose`` and ``sms_messages.purpose`` ('marketing' |
    'service'; existing templates and messages count as marketing, so an unsubscribe reply
    stops them until a template is marked a service notice)."""
    op.create_table(
        "consent_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.CheckConstraint(_PURPOSES, name=op.f("ck_consent_events_purpose")),
        sa.CheckConstraint(_STATES, name=op.f("ck_consent_events_state")),
        sa.CheckConstraint(_SOURCES, name=op.f("ck_consent_events_source")),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_consent_events_recorded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
        sa.UniqueConstraint(
            "subscriber_id",
            "purpose",
            "channel",
            "state",
            "effective_at",
            "source",
            name="uq_consent_events_statement",
        ),
    )
    op.create_index("ix_consent_events_recorded_at", "consent_events", ["recorded_at"])
    op.create_table(
        "consents",
        sa.Column("subscriber_id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(_STATES, name=op.f("ck_consents_state")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["consent_events.id"], name=op.f("fk_consents_event_id_consent_events")
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "purpose", "channel", name=op.f("pk_consents")),
    )
    op.create_index("ix_consents_state", "consents", ["state", "subscriber_id"])
    op.create_table(
        "sms_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gateway_message_id", sa.String(length=100), nullable=False),
        sa.Column("subscriber_id", sa.String(length=32), nullable=False),
        sa.Column("msisdn", sa.String(length=20), nullable=True),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unsubscribe", sa.Boolean(), nullable=False),
        sa.Column("consent_event_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["consent_event_id"],
            ["consent_events.id"],
            name=op.f("fk_sms_replies_consent_event_id_consent_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_replies")),
        sa.UniqueConstraint("gateway_message_id", name=op.f("uq_sms_replies_gateway_message_id")),
    )
    op.create_index("ix_sms_replies_subscriber_at", "sms_replies", ["subscriber_id", "received_at"])
    with op.batch_alter_table("sms_templates") as batch_op:
        batch_op.add_column(
            sa.Column(
                "purpose",
                sa.String(length=16),
                nullable=False,
                server_default=sa.text("'marketing'"),
            )
        )
        batch_op.create_check_constraint("purpose", "purpose IN ('marketing', 'service')")
    with op.batch_alter_table("sms_messages") as batch_op:
        batch_op.add_column(
            sa.Column(
                "purpose",
                sa.String(length=16),
                nullable=False,
                server_default=sa.text("'marketing'"),
            )
        )
        batch_op.create_check_constraint("purpose", "purpose IN ('marketing', 'service')")


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("sms_messages") as batch_op:
        batch_op.drop_constraint(op.f("ck_sms_messages_purpose"), type_="check")
        batch_op.drop_column("purpose")
    with op.batch_alter_table("sms_templates") as batch_op:
        batch_op.drop_constraint(op.f("ck_sms_templates_purpose"), type_="check")
        batch_op.drop_column("purpose")
    op.drop_table("sms_replies")
    op.drop_table("consents")
    op.drop_table("consent_events")
