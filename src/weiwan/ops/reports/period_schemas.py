"""Shapes of the published weekly, monthly and churn analysis reports at the edge."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel

ReportKind = Literal["week", "month", "churn"]


class PeriodEntry(BaseModel):
    """A published period and the documents (scopes) the reader may open: ``*`` is the
    whole operator, any other scope a branch code."""

    kind: ReportKind
    key: str
    start: date
    last_day: date
    snapshot_date: date
    scopes: list[str]


class PeriodList(BaseModel):
    """Published periods, newest first."""

    items: list[PeriodEntry]


class PeriodReportOut(BaseModel):
    """One published report document (figures, breakdowns and findings; see docs/reports.md)."""

    kind: ReportKind
    key: str
    scope: str
    snapshot_date: date
    published_at: datetime
    document: dict[str, Any]
