"""Published dashboard figures (发布的监控指标) and the dissatisfied-customer list.

The pipeline replaces both tables whole on every publish (``weiwan.pipeline.publish.metrics``);
they hold the latest published snapshot only. Rates are stored with their numerator and
denominator per branch so a reader's scope can add branches up (see ``analytics.kpis``).
``period_reports`` keeps the weekly, monthly and churn analysis reports of every closed period
(``weiwan.pipeline.publish.reports``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from weiwan.ops.base import Base, UTCDateTime


class PublishedMetric(Base):
    """One figure: ``metric`` of ``period`` for one ``member`` of a ``dimension`` in one branch
    (``branch_id`` NULL: a figure of the whole operator, e.g. a model's AUC)."""

    __tablename__ = "published_metrics"
    __table_args__ = (
        Index("ix_published_metrics_metric_period", "metric", "dimension", "period"),
        Index("ix_published_metrics_branch", "branch_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_date: Mapped[date] = mapped_column(Date)
    metric: Mapped[str] = mapped_column(String(48))
    period: Mapped[date] = mapped_column(Date)
    dimension: Mapped[str] = mapped_column(String(32))
    member: Mapped[str] = mapped_column(String(100))
    branch_code: Mapped[str | None] = mapped_column(String(64))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    value: Mapped[float | None] = mapped_column(Float)
    numerator: Mapped[float | None] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)


class DissatisfiedCustomer(Base):
    """A low survey score (不满意客户) of the last months, for second care (二次关怀)."""

    __tablename__ = "dissatisfied_customers"
    __table_args__ = (Index("ix_dissatisfied_customers_branch_at", "branch_id", "survey_time"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_date: Mapped[date] = mapped_column(Date)
    subscriber_id: Mapped[str] = mapped_column(String(32), index=True)
    branch_code: Mapped[str | None] = mapped_column(String(64))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    survey_time: Mapped[datetime] = mapped_column(UTCDateTime)
    touchpoint: Mapped[str | None] = mapped_column(String(32))
    score: Mapped[int] = mapped_column(Integer)


#: ``PeriodReport.scope`` of the whole operator's document
WHOLE = "*"


class PeriodReport(Base):
    """A published report document (JSON text, see docs/reports.md): ``kind`` week, month or
    churn, ``key`` ``2026-W44`` / ``2026-10``, ``scope`` ``*`` (the whole operator) or a branch
    code; ``branch_id`` the branch of a branch document (NULL: whole operator or a code without
    a branch, seen only by roles that see everything); ``inputs`` the fingerprint of what the
    period's documents were built from (the publish rebuilds them when it differs)."""

    __tablename__ = "period_reports"
    __table_args__ = (
        UniqueConstraint("kind", "key", "scope", name="uq_period_reports_kind_key_scope"),
        Index("ix_period_reports_branch", "branch_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    key: Mapped[str] = mapped_column(String(10))
    scope: Mapped[str] = mapped_column(String(64))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    start: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    snapshot_date: Mapped[date] = mapped_column(Date)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    document: Mapped[str] = mapped_column(Text)
    inputs: Mapped[str | None] = mapped_column(String(64))
