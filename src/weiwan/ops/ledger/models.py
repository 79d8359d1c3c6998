"""The ledger's tables: what the day's published decisions granted per policy (kept per day,
so a budget window is a range read, not a scan of every decision) and each grant made for an
event as it arrived."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from weiwan.ops.base import Base, UTCDateTime, utcnow


class BatchUsage(Base):
    """The grants of one published day's decisions for one policy (acted on, not held out)."""

    __tablename__ = "budget_usage"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    money: Mapped[float] = mapped_column(Float)


class OnlineGrant(Base):
    """An offer granted at once for an event (one per event at most): it counts against the
    policy's budget, the customer's value cap and entry limits like a daily grant, and the
    daily run reads it back (``ops_online_grants``)."""

    __tablename__ = "online_grants"
    __table_args__ = (
        Index("ix_online_grants_policy_day", "policy_id", "granted_on"),
        Index("ix_online_grants_subscriber_day", "subscriber_id", "granted_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the event record (``events.id``) the grant was made for
    event_record_id: Mapped[int] = mapped_column(Integer, unique=True)
    subscriber_id: Mapped[str] = mapped_column(String(32))
    policy_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    #: offer and contact cost, as the daily decisions count it
    cost: Mapped[float] = mapped_column(Float)
    expected_value: Mapped[float] = mapped_column(Float)
    #: the centre's local day of the grant
    granted_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
