"""SMS templates and messages. The messages table is also the outbox: a message waits there
(``queued`` / ``scheduled``) until ``dispatch_due`` hands it to the gateway."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from weiwan.ops.base import Base, UTCDateTime, utcnow

MESSAGE_STATUSES = (
    "queued",
    "scheduled",
    "sending",
    "sent",
    "delivered",
    "failed",
    "blocked",
    "unknown",
)
#: statuses waiting in the outbox for ``dispatch_due``
WAITING = ("queued", "scheduled")
#: taken by a dispatcher and handed to the gateway; its answer not recorded yet
SENDING = "sending"
#: the gateway's answer was lost (timeout, crash): may have gone out, check before re-sending
UNKNOWN = "unknown"
LANGUAGES = ("zh", "en")


class SmsTemplate(Base):
    """A message text with ``${variable}`` placeholders: customer fields from a fixed list and
    the ``free_variables`` (space-separated names) supplied when sending."""

    __tablename__ = "sms_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    body_zh: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str | None] = mapped_column(Text)
    free_variables: Mapped[str] = mapped_column(String(500), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SmsMessage(Base):
    """One message to one subscriber, rendered and checked against the contact policy when it
    was created, and linked to the contact that records it (blocked ones too).

    ``msisdn`` and ``branch_id`` are copied from the customer view at send time, so the
    history stays right when the number or branch changes. ``scheduled_at`` is when it may go
    (now for ``queued``, the end of the quiet hours for ``scheduled``). ``campaign_id`` is a
    plain id: campaigns live in their own domain. ``sending_at``: when a dispatcher took it
    (status ``sending``, committed before the gateway is called).
    """

    __tablename__ = "sms_messages"
    __table_args__ = (
        CheckConstraint(f"status IN {MESSAGE_STATUSES!r}", name="status"),
        CheckConstraint(f"language IN {LANGUAGES!r}", name="language"),
        Index("ix_sms_messages_due", "status", "scheduled_at"),
        Index("ix_sms_messages_created_by_at", "created_by", "created_at"),
        Index("ix_sms_messages_branch_at", "branch_id", "created_at"),
        Index("ix_sms_messages_subscriber_at", "subscriber_id", "created_at"),
        # the SMS real-time events sent on a day (their share of the channel's capacity)
        Index("ix_sms_messages_rule_at", "alert_rule", "created_at"),
        Index("ix_sms_messages_created", "created_at"),  # a day's SMS (/metrics)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(String(32))
    msisdn: Mapped[str] = mapped_column(String(20))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(2), default="zh")
    segments: Mapped[int] = mapped_column(Integer)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("sms_templates.id"))
    campaign_id: Mapped[int | None] = mapped_column(Integer, index=True)
    alert_rule: Mapped[str | None] = mapped_column(String(64))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    blocked_reason: Mapped[str | None] = mapped_column(String(64))
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sending_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    gateway_message_id: Mapped[str | None] = mapped_column(String(100), index=True)
    error: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
