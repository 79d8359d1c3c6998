"""Shapes of data-quality reports at the edge."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from weiwan.ops.types import IdField


class ReportIn(BaseModel):
    """A report of wrong data: the field and the right value (checked per field by the
    service, which takes the value in the data from the published customer view)."""

    model_config = ConfigDict(extra="forbid")

    subscriber_id: str = Field(min_length=1, max_length=32)
    field: str = Field(min_length=1, max_length=32)
    reported_value: str = Field(min_length=1, max_length=200)
    note: str | None = Field(default=None, max_length=2000)
    contact_id: IdField | None = None


class ReviewIn(BaseModel):
    """A reviewer's confirm or reject, with an optional note."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000)


class ReportOut(BaseModel):
    """A report as the caller may see it (phone and ID values masked for roles that may not
    see full numbers)."""

    id: int
    subscriber_id: str
    field: str
    source_table: str
    source_column: str | None
    data_value: str | None
    reported_value: str
    note: str | None
    contact_id: int | None
    reported_by: int
    reported_by_name: str | None
    reported_at: datetime
    branch_id: int | None
    branch_code: str | None
    status: str
    reviewed_by: int | None
    reviewed_at: datetime | None
    review_note: str | None
    exported_at: datetime | None


class CountOut(BaseModel):
    """Reports of one source table and branch, by status."""

    source_table: str
    branch_id: int | None
    branch_code: str | None
    total: int
    new: int
    confirmed: int
    rejected: int
    exported: int


class ExportBatchOut(BaseModel):
    """One correction export, downloadable again at ``/data-quality/exports/{id}``."""

    id: int
    exported_by: int
    exported_by_name: str | None
    exported_at: datetime
    filters: dict[str, str | int | None]
    rows: int
    withheld: int
