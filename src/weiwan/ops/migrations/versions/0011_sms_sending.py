"""SMS dispatch in two steps: ``sending`` (handed to the gateway, result not yet recorded) and
``unknown`` (the gateway's answer was lost: check before sending again), with the time a
message was taken for sending.

Revision ID: 0011_sms_sending
Revises: 0010_export_batches
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_sms_sending"
down_revision: str | Sequence[str] | None = "0010_export_batches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CK = "ck_sms_messages_status"
_OLD = "status IN ('queued', 'scheduled', 'sent', 'delivered', 'failed', 'blocked')"
_NEW = (
    "status IN ('queued', 'scheduled', 'sending', 'sent', 'delivered', 'failed', 'blocked', "
    "'unknown')"
)


def upgrade() -> None:
    """Allow ``sending`` and ``unknown``; add ``sending_at``."""
    with op.batch_alter_table("sms_messages") as batch_op:
        batch_op.drop_constraint(op.f(_CK), type_="check")
        batch_op.create_check_constraint(op.f(_CK), _NEW)
        batch_op.add_column(sa.Column("sending_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Back to the one-step dispatch: a message caught ``sending`` or ``unknown`` becomes
    ``failed`` with a note (never back in the queue, so nothing is sent twice)."""
    op.execute(
        "UPDATE sms_messages SET status = 'failed', "
        "error = 'dispatch interrupted; check with the gateway before sending again' "
        "WHERE status IN ('sending', 'unknown')"
    )
    with op.batch_alter_table("sms_messages") as batch_op:
        batch_op.drop_column("sending_at")
        batch_op.drop_constraint(op.f(_CK), type_="check")
        batch_op.create_check_constraint(op.f(_CK), _OLD)
