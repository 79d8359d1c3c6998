"""Shapes of the anomaly pool at the edge."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from weiwan.core.contact_rules import Channel
from weiwan.ops.anomalies.models import CATEGORIES, STATUSES
from weiwan.ops.types import IdField

Status = Literal[STATUSES]  # type: ignore[valid-type]
Category = Literal[CATEGORIES]  # type: ignore[valid-type]
Note = Field(min_length=1, max_length=2000)


class AnomalyOut(BaseModel):
    """One pool entry."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    subscriber_id: str
    rule_id: str
    name_zh: str
    name_en: str
    category: str
    severity: str
    period_key: str
    evidence: dict[str, Any]
    detected_on: date
    branch_code: str | None
    branch_id: int | None
    value_tier: str | None
    account_manager: str | None
    manager_id: int | None
    status: str
    task_id: int | None
    assignee_id: int | None
    note: str | None
    created_at: datetime
    updated_at: datetime | None
    updated_by: int | None

    @field_validator("evidence", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        if isinstance(value, str):
            parsed = json.loads(value) if value else {}
            return parsed if isinstance(parsed, dict) else {"value": parsed}
        return value


class ChangeOut(BaseModel):
    """One status change of an entry."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    by_user_id: int
    from_status: str
    to_status: str
    note: str | None
    task_id: int | None


class AnomalyDetail(AnomalyOut):
    """One pool entry with its status history, oldest first."""

    history: list[ChangeOut]


class AnomalyPage(BaseModel):
    """One page of entries and how many match in all."""

    total: int
    limit: int
    offset: int
    items: list[AnomalyOut]


class Count(BaseModel):
    """Entries of one member of a dimension."""

    key: str
    name_zh: str | None = None
    name_en: str | None = None
    count: int


class AnomalySummary(BaseModel):
    """Counts of the entries matching the filters, by type (rule), category and status."""

    total: int
    by_rule: list[Count]
    by_category: list[Count]
    by_status: list[Count]


class AssignIn(BaseModel):
    """Who works the entry; a task in ``channel`` is created for them."""

    model_config = ConfigDict(extra="forbid")

    assignee_id: IdField
    channel: Channel = "outbound_call"
    note: str | None = Field(default=None, max_length=2000)


class NoteIn(BaseModel):
    """What was done, or why the entry is dismissed."""

    model_config = ConfigDict(extra="forbid")

    note: str = Note
