"""Shapes of policies and self-service orders at the edge."""

from __future__ import annotations

from datetime import date
from typing import Literal

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
    """A self-service order of one offer; ``channel``: where the customer ordered (default:
    the caller's own channel: a store clerk's order is the store's, a hotline agent's the
    hotline's, a service account's self-service)."""

    model_config = ConfigDict(extra="forbid")

    policy_id: str = Field(min_length=1, max_length=64)
    channel: Literal["self_service", "store", "hotline", "outbound_call"] | None = None


class OrderOut(BaseModel):
    """The accepted order."""

    acceptance_id: int
    contact_id: int
    closed_task_ids: list[int]
