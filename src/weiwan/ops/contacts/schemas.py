"""Shapes of contacts and outcomes at the edge."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from weiwan.core.contact_rules import CHANNELS, Channel
from weiwan.ops.types import IdField

Outcome = Literal["connected", "not_reached", "refused", "accepted", "call_back", "wrong_number"]


class OutcomeIn(BaseModel):
    """One outcome of a contact; refusals need a reason, call-backs a time, acceptances a
    policy (or the task's)."""

    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    refusal_reason: str | None = Field(default=None, max_length=200)
    call_back_at: datetime | None = None
    policy_id: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _complete(self) -> OutcomeIn:
        if self.outcome == "refused" and not (self.refusal_reason or "").strip():
            raise ValueError("a refusal needs refusal_reason")
        if self.outcome == "call_back" and self.call_back_at is None:
            raise ValueError("a call-back needs call_back_at")
        return self


class CallIn(BaseModel):
    """A contact that took place, with its outcomes, recorded in one step."""

    model_config = ConfigDict(extra="forbid")

    subscriber_id: str = Field(min_length=1, max_length=32)
    channel: Channel
    task_id: IdField | None = None
    campaign_id: IdField | None = None
    policy_id: str | None = Field(default=None, max_length=64)
    outcomes: list[OutcomeIn] = Field(default_factory=list, max_length=6)
    note: str | None = Field(default=None, max_length=2000)
    at: datetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CallIn:
        kinds = [o.outcome for o in self.outcomes]
        if len(set(kinds)) != len(kinds):
            raise ValueError("an outcome is listed twice")
        if "not_reached" in kinds and len(kinds) > 1:
            raise ValueError("not_reached cannot go with other outcomes")
        if "accepted" in kinds and "refused" in kinds:
            raise ValueError("accepted and refused exclude each other")
        return self


class OutcomeOut(BaseModel):
    """A recorded outcome."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    outcome: str
    refusal_reason: str | None
    call_back_at: datetime | None
    policy_id: str | None


class ContactOut(BaseModel):
    """A recorded contact (``status`` blocked: the contact policy refused a contact the system
    would have made; ``over_rule``: the contact rule a recorded call or visit went over)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    subscriber_id: str
    at: datetime
    channel: str
    status: str
    blocked_reason: str | None
    over_rule: str | None = None
    task_id: int | None
    campaign_id: int | None
    policy_id: str | None
    user_id: int | None
    note: str | None


class CallResult(BaseModel):
    """What recording a contact did: the contact, its outcomes, the acceptance and the tasks
    it closed in other channels."""

    contact: ContactOut
    outcomes: list[OutcomeOut]
    acceptance_id: int | None = None
    closed_task_ids: list[int] = Field(default_factory=list)
    next_allowed_at: datetime | None = None


class ChannelStateOut(BaseModel):
    """A customer's standing against the contact rules on one channel: contacts made in each
    cap's window (day, week, month) against the cap (null: none), whether a contact is
    allowed now, the rule that stops it, and when one is next allowed."""

    channel: str
    used: dict[str, int]
    caps: dict[str, int | None]
    allowed: bool
    reason: str | None
    next_allowed_at: datetime | None


class InspectionIn(BaseModel):
    """A call quality inspection."""

    model_config = ConfigDict(extra="forbid")

    recording_ref: str | None = Field(default=None, max_length=300)
    score: int = Field(ge=0, le=100)
    comments: str | None = Field(default=None, max_length=4000)


class InspectionOut(BaseModel):
    """A recorded inspection."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    contact_id: int
    inspector_id: int
    at: datetime
    recording_ref: str | None
    score: int
    comments: str | None


class DoNotDisturbIn(BaseModel):
    """A do-not-disturb wish: one channel or ``all`` proactive channels."""

    model_config = ConfigDict(extra="forbid")

    channel: Literal[(*CHANNELS, "all")]  # type: ignore[valid-type]
    reason: str | None = Field(default=None, max_length=200)


class DoNotDisturbOut(BaseModel):
    """A recorded wish."""

    model_config = ConfigDict(from_attributes=True)

    subscriber_id: str
    channel: str
    reason: str | None
    created_by: int | None
    created_at: datetime


class ImportOut(BaseModel):
    """What a dialer result import did; ``conflicts`` are rows refused by the current state
    (e.g. the customer accepted in another channel first), with row and message."""

    rows: int
    recorded: int
    unchanged: int
    over_rule: int
    conflicts: list[dict[str, object]]
