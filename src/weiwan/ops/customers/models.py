"""Published tables: one customer view row per subscriber, the day's decisions, publications.

The pipeline replaces these in bulk (``weiwan.pipeline.publish``); the request path reads only
these, never the warehouse.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from weiwan.ops.base import Base, UTCDateTime, utcnow


class Publication(Base):
    """One published (kind, snapshot date): when, how many rows."""

    __tablename__ = "publications"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    snapshot_date: Mapped[date] = mapped_column(Date, primary_key=True)
    rows: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerView(Base):
    """The unified customer card of the latest published snapshot (统一客户视图).

    ``reasons`` is a JSON list of {zh, en, feature}; ``tags`` the true tag ids separated and
    surrounded by spaces (so a tag condition is one ``LIKE '% id %'``); ``eligible_policies``
    the policy ids the subscriber may get, space-separated the same way.
    """

    __tablename__ = "customer_view"
    __table_args__ = (Index("ix_customer_view_branch_risk", "branch_id", "risk_band"),)

    subscriber_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    snapshot_date: Mapped[date] = mapped_column(Date)
    msisdn: Mapped[str] = mapped_column(String(20), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(100))
    id_number: Mapped[str | None] = mapped_column(String(32))
    gender: Mapped[str | None] = mapped_column(String(1))
    age: Mapped[int | None] = mapped_column(Integer)
    region: Mapped[str | None] = mapped_column(String(64))
    branch_code: Mapped[str | None] = mapped_column(String(32))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"), index=True)
    brand: Mapped[str | None] = mapped_column(String(32))
    payment_type: Mapped[str | None] = mapped_column(String(16))
    plan_id: Mapped[str | None] = mapped_column(String(32))
    plan_monthly_fee: Mapped[float | None] = mapped_column(Float)
    join_date: Mapped[date | None] = mapped_column(Date)
    tenure_months: Mapped[int | None] = mapped_column(Integer)
    contract_end_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str | None] = mapped_column(String(32))
    star_level: Mapped[int | None] = mapped_column(Integer)
    account_manager: Mapped[str | None] = mapped_column(String(64), index=True)
    arpu_1m: Mapped[float | None] = mapped_column(Float)
    value_tier: Mapped[str | None] = mapped_column(String(32))
    lifecycle_stage: Mapped[str | None] = mapped_column(String(32))
    clv_quadrant: Mapped[str | None] = mapped_column(String(32))
    future_value: Mapped[float | None] = mapped_column(Float)
    churn_probability: Mapped[float | None] = mapped_column(Float)
    risk_band: Mapped[str | None] = mapped_column(String(16))
    model_version: Mapped[str | None] = mapped_column(String(16))
    reasons: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[str | None] = mapped_column(Text)
    eligible_policies: Mapped[str | None] = mapped_column(Text)
    #: the reason the subscriber would most likely leave over (churn_records' codes) and its
    #: probability, from the churn model's leaving-reason classifier; NULL without one
    leaving_reason: Mapped[str | None] = mapped_column(String(32))
    leaving_reason_share: Mapped[float | None] = mapped_column(Float)
    #: every reason's probability (JSON, reason → probability): the real-time offer's match
    #: where decide.yaml uses the leaving reasons
    leaving_mix: Mapped[str | None] = mapped_column(Text)


class PublishedDecision(Base):
    """One next-best-action row of a snapshot (see ``analytics.decide``), as published."""

    __tablename__ = "decisions"
    __table_args__ = (
        Index("ix_decisions_day_subscriber", "snapshot_date", "subscriber_id"),
        # a customer's grants over a value-cap window (the real-time ledger)
        Index("ix_decisions_subscriber_day", "subscriber_id", "snapshot_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_date: Mapped[date] = mapped_column(Date)
    subscriber_id: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[str | None] = mapped_column(String(64))
    trigger_kind: Mapped[str | None] = mapped_column(String(16))
    holdout: Mapped[bool] = mapped_column(Boolean)
    action: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[str | None] = mapped_column(String(32))
    policy_id: Mapped[str | None] = mapped_column(String(64))
    offer_type: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(32))
    churn_probability: Mapped[float | None] = mapped_column(Float)
    driver: Mapped[str | None] = mapped_column(String(32))
    uplift: Mapped[float | None] = mapped_column(Float)
    value_saved: Mapped[float | None] = mapped_column(Float)
    cost: Mapped[float | None] = mapped_column(Float)
    expected_value: Mapped[float | None] = mapped_column(Float)
    why_zh: Mapped[str | None] = mapped_column(Text)
    why_en: Mapped[str | None] = mapped_column(Text)
