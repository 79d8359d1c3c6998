"""Shapes of tasks at the edge."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from weiwan.core.contact_rules import Channel
from weiwan.ops.types import IdField


class TaskOut(BaseModel):
    """A task."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    subscriber_id: str
    source: str
    origin: str
    campaign_id: int | None
    policy_id: str | None
    channel: str
    branch_id: int | None
    assignee_id: int | None
    status: str
    priority: float
    title_zh: str
    title_en: str
    due_at: datetime | None
    created_at: datetime
    closed_at: datetime | None
    closed_reason: str | None


class TransferIn(BaseModel):
    """Where to move a task: an agent, a branch's queue (e.g. a store), a channel."""

    model_config = ConfigDict(extra="forbid")

    to_user_id: IdField | None = None
    to_branch_id: IdField | None = None
    to_channel: Channel | None = None
    reason: str | None = Field(default=None, max_length=500)


class TransferOut(BaseModel):
    """One step of a task's transfer history."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    by_user_id: int
    from_user_id: int | None
    to_user_id: int | None
    from_branch_id: int | None
    to_branch_id: int | None
    from_channel: str
    to_channel: str
    reason: str | None
