"""The policy library as published by the pipeline: what any channel may offer, and how."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from weiwan.ops.base import Base


class PublishedPolicy(Base):
    """One retention policy (挽留政策) valid in the library; channels space-separated."""

    __tablename__ = "policies"

    policy_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    offer_type: Mapped[str] = mapped_column(String(32))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)
    min_spend: Mapped[float] = mapped_column(Float)
    total_cost: Mapped[float] = mapped_column(Float)
    benefit_value: Mapped[float | None] = mapped_column(Float)
    commitment_months: Mapped[int] = mapped_column(Integer)
    channels: Mapped[str] = mapped_column(String(200))
    script_zh: Mapped[str] = mapped_column(Text, default="")
    script_en: Mapped[str] = mapped_column(Text, default="")
    approval: Mapped[str] = mapped_column(String(16))
    budget_count: Mapped[int | None] = mapped_column(Integer)
    budget_money: Mapped[float | None] = mapped_column(Float)


class PublishedLimitPrice(Base):
    """The shadow price of a limit that bound the day's decisions (影子价格): the expected value
    one more grant or yuan of a policy's budget, or one more contact of a channel's capacity
    that day, would have added; published with the day's decisions."""

    __tablename__ = "limit_prices"

    snapshot_date: Mapped[date] = mapped_column(Date, primary_key=True)
    #: policy_count, policy_money or channel
    limit_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    #: the policy id or the channel
    limit_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    yuan: Mapped[float] = mapped_column(Float)


class PublishedUpliftLevel(Base):
    """What the outcomes closed by ``snapshot_date`` taught the day's decisions about one offer
    type: the level of its prior uplift they support (1: the prior as configured, 0: no cut in
    churn shown, negative: harm), with the evidence behind it (``analytics.uplift``); published
    with the day's decisions. The real-time offer values the type's prior at this level."""

    __tablename__ = "uplift_levels"

    snapshot_date: Mapped[date] = mapped_column(Date, primary_key=True)
    offer_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    level: Mapped[float] = mapped_column(Float)
    #: the level the randomised comparisons alone support, before the trees' share
    scale: Mapped[float] = mapped_column(Float)
    #: how far the per-customer trees moved the estimate from the scaled prior (0 … 1)
    tree_weight: Mapped[float] = mapped_column(Float)
    #: the mean prior relative uplift, and the mean learned one, of the customers offered it
    prior_uplift: Mapped[float] = mapped_column(Float)
    mean_uplift: Mapped[float] = mapped_column(Float)
    treated: Mapped[int] = mapped_column(Integer)
    treated_churned: Mapped[int] = mapped_column(Integer)
    controls: Mapped[int] = mapped_column(Integer)
    controls_churned: Mapped[int] = mapped_column(Integer)
    #: the share of its first month's cut in churn that held in the window's later months
    #: (0 … 1): the real-time offer values the level over the window and so much beyond it
    persistence: Mapped[float] = mapped_column(Float, server_default="0")
    #: the outcome window the level was measured over (3; 1 while a cold start learns from
    #: its decisions' first month)
    window_months: Mapped[int] = mapped_column(Integer, server_default="3")
