"""Request and response bodies of the campaign API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from weiwan.core.contact_rules import CHANNELS
from weiwan.ops.org.roles import Role
from weiwan.ops.types import IdField

Channel = Literal[CHANNELS]  # type: ignore[valid-type]
_IN = ConfigDict(extra="forbid")
PolicyId = Annotated[str, Field(min_length=1, max_length=64)]


def _distinct(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    seen: list[str] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


class CampaignFields(BaseModel):
    """The editable fields of a plan (all optional: an update changes what it names)."""

    model_config = _IN
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    branch_id: IdField | None = None
    target_filter: dict[str, Any] | None = None
    policy_ids: list[PolicyId] | None = Field(default=None, min_length=1, max_length=20)
    channels: list[Channel] | None = Field(default=None, min_length=1)
    script_zh: str | None = Field(default=None, max_length=10_000)
    script_en: str | None = Field(default=None, max_length=10_000)
    start_date: date | None = None
    end_date: date | None = None
    holdout_share: float | None = Field(default=None, gt=0, le=0.5)
    questionnaire_id: IdField | None = None

    @field_validator("policy_ids", "channels")
    @classmethod
    def _no_repeats(cls, values: list[str] | None) -> list[str] | None:
        return _distinct(values)

    @model_validator(mode="after")
    def _schedule(self) -> CampaignFields:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class CampaignCreate(CampaignFields):
    """A new plan: name, branch, targets, policies and channels are required."""

    name: str = Field(min_length=1, max_length=200)
    branch_id: IdField
    target_filter: dict[str, Any]
    policy_ids: list[PolicyId] = Field(min_length=1, max_length=20)
    channels: list[Channel] = Field(min_length=1)
    holdout_share: float = Field(default=0.1, gt=0, le=0.5)


class CampaignUpdate(CampaignFields):
    """Changes to a plan; fields left out stay as they are (send ``null`` dates to clear)."""


class CommentIn(BaseModel):
    """An approval decision's comment (required to reject)."""

    model_config = _IN
    comment: str | None = Field(default=None, max_length=2000)


class PreviewIn(BaseModel):
    """A filter to count, optionally within one branch (and its sub-branches)."""

    model_config = _IN
    filter: dict[str, Any]
    branch_id: IdField | None = None


class PreviewOut(BaseModel):
    """How many customers in scope match."""

    count: int


class TransitionOut(BaseModel):
    """One entry of a plan's history."""

    model_config = ConfigDict(from_attributes=True)
    at: datetime
    user_id: int
    from_status: str | None
    to_status: str
    level: int | None
    comment: str | None
    #: the system's note as data (JSON text: ``{"kind": "rehearsed", "targets": 199}``)
    note: str | None = None


class CampaignOut(BaseModel):
    """A plan with its rehearsal, start summary and evaluation."""

    id: int
    name: str
    description: str
    branch_id: int
    status: str
    target_filter: dict[str, Any]
    policy_ids: list[str]
    channels: list[str]
    script_zh: str
    script_en: str
    start_date: date | None
    end_date: date | None
    holdout_share: float
    questionnaire_id: int | None
    cloned_from: int | None
    created_by: int
    created_at: datetime
    updated_at: datetime
    approval_level: int | None
    approval_chain: list[str] | None
    rehearsal: dict[str, Any] | None
    start_summary: dict[str, Any] | None
    evaluation: dict[str, Any] | None
    started_at: datetime | None
    completed_at: datetime | None
    evaluated_at: datetime | None


class CampaignDetail(CampaignOut):
    """A plan and its history."""

    history: list[TransitionOut]


class ApprovalChainIn(BaseModel):
    """A branch's chain (``branch_id`` null = the default chain), level 1 first; an empty list
    removes the branch's own chain so the parent's (or the default) applies."""

    model_config = _IN
    branch_id: IdField | None = None
    roles: list[Role] = Field(max_length=10)


class ApprovalChainOut(BaseModel):
    """The chain a branch's plans go through and where it comes from."""

    branch_id: int | None
    configured_for: int | None
    source: Literal["branch", "parent", "default", "built_in"]
    roles: list[Role]


class MembersSummary(BaseModel):
    """Members of a started campaign per arm, and its tasks by status."""

    campaign_id: int
    treated: int
    holdout: int
    skipped_running: int
    #: matched customers left out because they refuse automated decisions (Art. 24 PIPL)
    skipped_objecting: int
    contacted_treated: int
    contacted_holdout: int
    accepted_treated: int
    tasks: dict[str, int]
