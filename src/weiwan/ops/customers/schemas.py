"""Shapes of the unified customer view at the edge."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class CustomerCardOut(BaseModel):
    """The unified view (统一视图): customer card, reasons, tags, policies they may get with
    scripts, open tasks in every channel, contact history across channels, acceptances."""

    customer: dict[str, Any]
    reasons: list[dict[str, Any]]
    tags: list[str]
    policies: list[dict[str, Any]]
    open_tasks: list[dict[str, Any]]
    contacts: list[dict[str, Any]]
    acceptances: list[dict[str, Any]]
    managers: dict[str, str]
    do_not_disturb: list[str]
    #: the customer's current objections in the consent ledger: {purpose, channel}
    objections: list[dict[str, str]] = []


class CustomerRow(BaseModel):
    """One customer in a list (numbers masked unless the role may see them)."""

    subscriber_id: str
    name: str | None
    msisdn: str
    branch_code: str | None
    value_tier: str | None
    lifecycle_stage: str | None
    churn_probability: float | None
    risk_band: str | None
