"""Response shapes of the run history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel


class RunStepOut(BaseModel):
    """One step of a run."""

    step: str
    status: str
    started_at: datetime
    seconds: float
    rows: int | None
    detail: dict[str, Any] | None


class RunOut(BaseModel):
    """One `weiwan daily` run."""

    id: int
    snapshot_date: date
    delivery: str
    host: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    failed_step: str | None
    error: str | None
    warnings: list[str]
    steps: list[RunStepOut]
