"""Shapes of the consent and objection ledger at the edge."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from weiwan.core.consent_rules import ALL_CHANNELS, PURPOSES, STATES, check_statement

PurposeField = Literal[PURPOSES]  # type: ignore[valid-type]
StateField = Literal[STATES]  # type: ignore[valid-type]


class ConsentIn(BaseModel):
    """A subscriber's consent or objection as an agent (or the operator's self-service portal,
    ``source`` self_service) records it: the purpose, one channel it covers or ``all``, when
    it took effect (default now; not in the future) and a reference (a call recording, a
    ticket)."""

    model_config = ConfigDict(extra="forbid")

    purpose: PurposeField
    channel: str = Field(default=ALL_CHANNELS, min_length=1, max_length=32)
    state: StateField
    effective_at: AwareDatetime | None = None
    reference: str | None = Field(default=None, max_length=100)
    source: Literal["agent", "self_service"] = "agent"

    @model_validator(mode="after")
    def _known(self) -> ConsentIn:
        problem = check_statement(self.purpose, self.channel, self.state)
        if problem is not None:
            raise ValueError(problem)
        return self


class ConsentEventOut(BaseModel):
    """One recorded statement."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    subscriber_id: str
    purpose: str
    channel: str
    state: str
    source: str
    effective_at: datetime
    recorded_at: datetime
    recorded_by: int | None
    reference: str | None


class ConsentStateOut(BaseModel):
    """The current state of one purpose and channel, and the statement it comes from."""

    model_config = ConfigDict(from_attributes=True)

    purpose: str
    channel: str
    state: str
    effective_at: datetime
    source: str
    event_id: int


class LedgerOut(BaseModel):
    """A subscriber's current consents and objections and their statements, newest first."""

    current: list[ConsentStateOut]
    history: list[ConsentEventOut]
