"""The strategy arms' evaluation as the daily run published it (one row per day and arm)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from weiwan.ops.base import Base


class PublishedStrategyArm(Base):
    """One strategy arm's churn against its hold-out and against the champion, on the
    decisions whose outcome window had closed by ``snapshot_date`` (see
    ``analytics.strategy_evaluation`` for the definitions)."""

    __tablename__ = "strategy_arms"

    snapshot_date: Mapped[date] = mapped_column(Date, primary_key=True)
    arm: Mapped[str] = mapped_column(String(32), primary_key=True)
    champion: Mapped[bool] = mapped_column(Boolean)
    share: Mapped[float | None] = mapped_column(Float)
    first_day: Mapped[date | None] = mapped_column(Date)
    last_day: Mapped[date | None] = mapped_column(Date)
    subscribers: Mapped[int] = mapped_column(Integer)
    churned: Mapped[int] = mapped_column(Integer)
    churn_rate: Mapped[float | None] = mapped_column(Float)
    churn_low: Mapped[float | None] = mapped_column(Float)
    churn_high: Mapped[float | None] = mapped_column(Float)
    holdout_subscribers: Mapped[int] = mapped_column(Integer)
    holdout_churned: Mapped[int] = mapped_column(Integer)
    holdout_churn_rate: Mapped[float | None] = mapped_column(Float)
    uplift: Mapped[float | None] = mapped_column(Float)
    uplift_low: Mapped[float | None] = mapped_column(Float)
    uplift_high: Mapped[float | None] = mapped_column(Float)
    uplift_significant: Mapped[bool] = mapped_column(Boolean)
    saves: Mapped[float | None] = mapped_column(Float)
    acted: Mapped[int] = mapped_column(Integer)
    spend: Mapped[float] = mapped_column(Float)
    cost_per_save: Mapped[float | None] = mapped_column(Float)
    gain: Mapped[float | None] = mapped_column(Float)
    gain_low: Mapped[float | None] = mapped_column(Float)
    gain_high: Mapped[float | None] = mapped_column(Float)
    p_value: Mapped[float | None] = mapped_column(Float)
    significant: Mapped[bool] = mapped_column(Boolean)
    pending: Mapped[int] = mapped_column(Integer)
