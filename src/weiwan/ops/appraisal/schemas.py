"""Shapes of the appraisal routes at the edge."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from weiwan.ops.types import IdField


# SettingsIn/SettingsOut and their ``settings`` field keep their names: they are the published
# API's (OpenAPI component names, JSON field) of the route /appraisal/settings.
class SettingsIn(BaseModel):
    """The appraisal scheme as YAML text (see docs/appraisal.md)."""

    text: str = Field(max_length=200_000)


class SettingsOut(BaseModel):
    """The appraisal scheme in effect: the text, its resolved form and who may change it."""

    text: str
    settings: dict[str, Any]
    editable: bool


class PlanIn(BaseModel):
    """One's plan for a week."""

    goals: str = Field(min_length=1, max_length=4000)
    target_customers: int = Field(ge=0, le=100_000)
    notes: str | None = Field(default=None, max_length=4000)


class CommentIn(BaseModel):
    """A manager's comment on a plan."""

    comment: str = Field(min_length=1, max_length=4000)


class PlanOut(BaseModel):
    """A weekly plan."""

    user_id: int
    user_name: str
    week: str
    week_start: date
    goals: str
    target_customers: int
    notes: str | None
    updated_at: datetime
    comment: str | None
    comment_by: int | None
    commented_at: datetime | None
    editable: bool


class CheckIn(BaseModel):
    """A check of an agent's records of a day."""

    agent_id: IdField
    day: date
    records_checked: int = Field(ge=0, le=10_000)
    findings: str | None = Field(default=None, max_length=4000)
    result: Literal["ok", "needs_correction"]


class CheckOut(BaseModel):
    """A recorded daily check."""

    id: int
    agent_id: int
    agent_name: str
    checker_id: int
    checker_name: str
    day: date
    records_checked: int
    findings: str | None
    result: str
    at: datetime


class CardOut(BaseModel):
    """One subject's scorecard of a month (figures: docs/appraisal.md)."""

    level: str
    subject_id: int
    name: str
    branch_id: int | None
    team_id: int | None
    score: float | None
    rank: int
    figures: dict[str, Any]


class ScorecardsOut(BaseModel):
    """A level's scorecards of a month in the reader's scope, best first."""

    month: str
    level: str
    closed: bool
    cards: list[CardOut]


class HistoryOut(BaseModel):
    """A subject's card of one month."""

    month: str
    closed: bool
    card: CardOut
