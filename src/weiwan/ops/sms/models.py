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
    text,
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
#: what a template is for: ``marketing`` (营销; an unsubscribe or an objection to marketing SMS
#: stops it) or ``service`` (服务/关怀: bills, outages, confirmations, care notices; still sent
#: to a subscriber who unsubscribed from marketing, as 通信短信息服务管理规定 allows)
TEMPLATE_PURPOSES = ("marketing", "service")
MARKETING, SERVICE = TEMPLATE_PURPOSES


class SmsTemplate(Base):
    """A message text with ``${variable}`` placeholders: customer fields from a fixed list and
    the ``free_variables`` (space-separated names) supplied when sending; its ``purpose``
    (:data:`TEMPLATE_PURPOSES`) says whether an objection to marketing SMS stops it."""

    __tablename__ = "sms_templates"
    __table_args__ = (CheckConstraint(f"purpose IN {TEMPLATE_PURPOSES!r}", name="purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    body_zh: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str | None] = mapped_column(Text)
    free_variables: Mapped[str] = mapped_column(String(500), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    purpose: Mapped[str] = mapped_column(
        String(16), default=MARKETING, server_default=text("'marketing'")
    )
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
    (status ``sending``, committed before the gateway is called). ``purpose``: ``marketing``
    or ``service`` (:data:`TEMPLATE_PURPOSES`), fixed when it was made: a waiting marketing
    message of a subscriber who has since objected is withheld by the dispatch.
    """

    __tablename__ = "sms_messages"
    __table_args__ = (
        CheckConstraint(f"status IN {MESSAGE_STATUSES!r}", name="status"),
        CheckConstraint(f"language IN {LANGUAGES!r}", name="language"),
        CheckConstraint(f"purpose IN {TEMPLATE_PURPOSES!r}", name="purpose"),
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
    purpose: Mapped[str] = mapped_column(
        String(16), default=MARKETING, server_default=text("'marketing'")
    )
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sending_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    gateway_message_id: Mapped[str | None] = mapped_column(String(100), index=True)
    error: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SmsReply(Base):
    """An SMS a subscriber sent back (上行短信), as the gateway delivered it: kept once per
    gateway message id. An unsubscribe reply (``unsubscribe``) recorded an objection to
    marketing SMS (``consent_event_id``); other replies are kept, not acted on."""

    __tablename__ = "sms_replies"
    __table_args__ = (Index("ix_sms_replies_subscriber_at", "subscriber_id", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gateway_message_id: Mapped[str] = mapped_column(String(100), unique=True)
    subscriber_id: Mapped[str] = mapped_column(String(32))
    #: the number as the gateway gave it (None when it named the subscriber)
    msisdn: Mapped[str | None] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(String(1000))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    unsubscribe: Mapped[bool] = mapped_column(Boolean)
    consent_event_id: Mapped[int | None] = mapped_column(ForeignKey("consent_events.id"))
