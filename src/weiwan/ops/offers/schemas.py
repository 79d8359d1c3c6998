"""Shapes of policies and self-service orders at the edge."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class PolicyOut(BaseModel):
    """A published retention policy."""

    model_config = ConfigDict(from_attributes=True)

    policy_id: str
    name_zh: str
    name_en: str
    description: str
    offer_type: str
    valid_from: date
    valid_to: date
    min_spend: float
    total_cost: float
    benefit_value: float | None
    commitment_months: int
    channels: str
    script_zh: str
    script_en: str
    approval: str


class OrderIn(BaseModel):
    """A self-service order of one offer."""

    model_config = ConfigDict(extra="forbid")

    policy_id: str = Field(min_length=1, max_length=64)


class OrderOut(BaseModel):
    """The accepted order."""

    acceptance_id: int
    contact_id: int
    closed_task_ids: list[int]
