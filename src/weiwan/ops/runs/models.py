"""Tables of the daily run's history."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from weiwan.ops.base import Base, UTCDateTime, utcnow

RUN_STATUSES = ("running", "succeeded", "failed", "partly_failed")
STEP_STATUSES = ("done", "failed", "skipped")


class DailyRun(Base):
    """One `weiwan daily` run for a delivery (snapshot date)."""

    __tablename__ = "daily_runs"
    __table_args__ = (
        CheckConstraint(f"status IN {RUN_STATUSES!r}", name="status"),
        Index("ix_daily_runs_snapshot", "snapshot_date", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_date: Mapped[date] = mapped_column(Date)
    #: the delivery's folder or URI
    delivery: Mapped[str] = mapped_column(String(500))
    host: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="running")
    failed_step: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    #: the run's warnings, as a JSON list of texts
    warnings: Mapped[str] = mapped_column(Text, default="[]")


class DailyRunStep(Base):
    """One step of a run: when, how long, how many rows, and how it ended."""

    __tablename__ = "daily_run_steps"
    __table_args__ = (CheckConstraint(f"status IN {STEP_STATUSES!r}", name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("daily_runs.id"), index=True)
    step: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    rows: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    #: what the step reports (rows per table …), as JSON
    detail: Mapped[str | None] = mapped_column(Text)


ALERT_KINDS = ("failed", "late")


class RunAlert(Base):
    """One alert to the administrators: a failed daily run, or a day whose publication was not
    there by its due time. ``key`` makes each alert once (the run's id; the late local day)."""

    __tablename__ = "run_alerts"
    __table_args__ = (CheckConstraint(f"kind IN {ALERT_KINDS!r}", name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("daily_runs.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    subject: Mapped[str] = mapped_column(String(300))
    #: who was told, and what failed on the way, as JSON ({"sent": [...], "errors": [...]})
    delivery: Mapped[str] = mapped_column(Text, default="{}")
