"""Request and response bodies of the personal-data routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PlaceOut(BaseModel):
    """One place holding data about the subscriber: what, why, how long, how many rows."""

    model_config = ConfigDict(from_attributes=True)

    store: str
    table: str
    kind: str
    purpose: str
    purpose_zh: str
    purpose_en: str
    fields: list[str]
    retention_months: int | None
    rows: int | None


class PersonalDataOut(BaseModel):
    """The personal-data report of one subscriber (numbers masked per the caller's role)."""

    model_config = ConfigDict(from_attributes=True)

    subscriber_id: str
    erased: bool
    subject: dict[str, Any]
    places: list[PlaceOut]


class ErasureIn(BaseModel):
    """Why the subscriber's data is erased (e.g. the request's reference; no personal data)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class ErasureOut(BaseModel):
    """What the erasure did in the operational database."""

    pseudonym: str
    rows: dict[str, int]
    already_erased: bool
