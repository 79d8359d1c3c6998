"""Tables of the domain (see the package docstring): one row per data-quality report."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from weiwan.ops.base import Base, UTCDateTime, utcnow
from weiwan.ops.dataquality.fields import FIELD_CODES

#: new → confirmed / rejected; confirmed → exported (the correction went to the source)
STATUSES = ("new", "confirmed", "rejected", "exported")
#: statuses of a report still open (a second report of the same value is refused)
OPEN_STATUSES = ("new", "confirmed")
_OPEN_SQL = "status IN ('new', 'confirmed')"


class DataQualityReport(Base):
    """Wrong data found in a contact (数据质量反馈): the value in the data when filed (copied
    from ``customer_view``, never from the request), the value the customer or agent gave,
    who filed it from which contact, and the review (confirm / reject, then export)."""

    __tablename__ = "data_quality_reports"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        CheckConstraint(f"field IN {FIELD_CODES!r}", name="field"),
        Index("ix_data_quality_reports_branch_status", "branch_id", "status"),
        Index("ix_data_quality_reports_reported_at", "reported_at"),
        Index(
            "uq_data_quality_reports_open",
            "subscriber_id",
            "field",
            "reported_value",
            unique=True,
            postgresql_where=text(_OPEN_SQL),
            sqlite_where=text(_OPEN_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(String(32), index=True)
    field: Mapped[str] = mapped_column(String(32))
    source_table: Mapped[str] = mapped_column(String(32))
    source_column: Mapped[str | None] = mapped_column(String(32))
    data_value: Mapped[str | None] = mapped_column(String(200))
    reported_value: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    reported_by: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    branch_code: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="new")
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str | None] = mapped_column(Text)
    exported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    exported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DataQualityExportBatch(Base):
    """One correction export (导出批次): who exported, when, with which filters, how many
    reports (and how many were withheld). Its reports are listed in
    :class:`DataQualityExportItem`; the file is rebuilt from them on a re-download (exported
    reports are final, so the rows are the same)."""

    __tablename__ = "data_quality_export_batches"
    __table_args__ = (Index("ix_data_quality_export_batches_exported_at", "exported_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exported_by: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    exported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    filters: Mapped[str] = mapped_column(Text, default="{}")
    rows: Mapped[int] = mapped_column(Integer, default=0)
    withheld: Mapped[int] = mapped_column(Integer, default=0)


class DataQualityExportItem(Base):
    """A report of an export batch, in file order; a report is exported in one batch only."""

    __tablename__ = "data_quality_export_items"

    batch_id: Mapped[int] = mapped_column(
        ForeignKey("data_quality_export_batches.id"), primary_key=True
    )
    report_id: Mapped[int] = mapped_column(
        ForeignKey("data_quality_reports.id"), primary_key=True, unique=True
    )
    position: Mapped[int] = mapped_column(Integer)
