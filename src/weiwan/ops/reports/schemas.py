"""Shapes of the dashboards' figures at the edge (the pages show the same objects)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel

Arrow = Literal["up", "down"]


class Figure(BaseModel):
    """One figure of a series: ``value`` = numerator ÷ denominator (× the metric's scale)
    summed over the branches the reader sees; figures that do not add up (AUC, PSI) carry
    their value alone."""

    period: date
    member: str
    value: float | None
    numerator: float | None = None
    denominator: float | None = None


class BranchFigure(BaseModel):
    """A figure of one branch."""

    branch_id: int | None
    branch: str
    value: float | None
    numerator: float | None
    denominator: float | None


class Ratio(BaseModel):
    """A live rate over the operational records of the period, against its target if any."""

    name: str
    value: float | None
    numerator: int
    denominator: int
    target: float | None = None


class LeagueRow(BaseModel):
    """One agent, team or branch in a league table (排行榜)."""

    id: int | None
    name: str
    contacts: int
    calls: int
    calls_reached: int
    reached: int
    accepted: int
    connect_rate: float | None
    success_rate: float | None


class Kpi(BaseModel):
    """A metric of the satisfaction panorama with its month-on-month and against-target change;
    an arrow when the change is above 5 % (up) or below −5 % (down)."""

    name: str
    source: Literal["published", "live"]
    period: date | None
    value: float | None
    previous: float | None
    change: float | None
    arrow: Arrow | None
    target: float | None
    target_gap: float | None
    target_arrow: Arrow | None
    #: the metric is better when it falls (complaints, churn): a rise is bad news
    lower_is_better: bool = False


class Overview(BaseModel):
    """The overview dashboard of one month."""

    month: date
    published_month: date | None
    snapshot_date: date | None
    churn_trend: list[Figure]
    churn_by: dict[str, list[Figure]]
    churn_by_branch: list[BranchFigure]
    rates: list[Ratio]
    agents: list[LeagueRow]
    teams: list[LeagueRow]
    branches: list[LeagueRow]


class Satisfaction(BaseModel):
    """The satisfaction KPI panorama of one month."""

    month: date
    kpis: list[Kpi]
    trend: list[Figure]
    by_touchpoint: list[Figure]


class ChurnAnalysis(BaseModel):
    """Why, where to, after how long and at what cost customers left (the report months)."""

    period: date | None
    snapshot_date: date | None
    leavers: float
    parts: dict[str, list[Figure]]


class ModelMonitor(BaseModel):
    """Model quality over time and the latest population stability per feature."""

    auc: list[Figure]
    holdout_auc: list[Figure]
    score_psi: list[Figure]
    drift_period: date | None
    drift: list[Figure]


class DissatisfiedRow(BaseModel):
    """One low survey score, with the customer's (masked) number."""

    subscriber_id: str
    name: str | None
    msisdn: str | None
    branch: str | None
    survey_time: datetime
    touchpoint: str | None
    score: int


class DissatisfiedList(BaseModel):
    """A page of the dissatisfied customers the reader may see, newest first."""

    total: int
    rows: list[DissatisfiedRow]
