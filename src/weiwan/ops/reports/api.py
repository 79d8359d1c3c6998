"""Routes: the dashboards' figures (the same objects the dashboard pages show)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from weiwan.ops.deps import CurrentActor, Db, LocalTz
from weiwan.ops.reports import common as reports_common
from weiwan.ops.reports import service
from weiwan.ops.reports.schemas import (
    ChurnAnalysis,
    DissatisfiedList,
    ModelMonitor,
    Overview,
    Satisfaction,
)

router = APIRouter(prefix="/reports", tags=["reports"])

MonthQuery = Annotated[
    str | None, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM; default: this month")
]
LangQuery = Annotated[str, Query(pattern=r"^(zh-CN|en)$")]


@router.get("/overview", response_model=Overview)
def overview(
    actor: CurrentActor, db: Db, tz: LocalTz, month: MonthQuery = None, lang: LangQuery = "zh-CN"
) -> Overview:
    """Churn trend and breakdowns, live rates and league tables of a month (scoped)."""
    return service.overview(db, actor, reports_common.parse_month(month, tz), tz, lang=lang)


@router.get("/satisfaction", response_model=Satisfaction)
def satisfaction(
    actor: CurrentActor, db: Db, tz: LocalTz, month: MonthQuery = None
) -> Satisfaction:
    """The satisfaction KPI panorama: month-on-month and against-target changes, arrows."""
    return service.satisfaction(db, actor, reports_common.parse_month(month, tz), tz)


@router.get("/churn", response_model=ChurnAnalysis)
def churn(actor: CurrentActor, db: Db) -> ChurnAnalysis:
    """Churn analysis: reasons, destinations, tenure vs base, touchpoints, cost (scoped)."""
    return service.churn_analysis(db, actor)


@router.get("/models", response_model=ModelMonitor)
def models(actor: CurrentActor, db: Db) -> ModelMonitor:
    """Model monitor: AUC over time and drift (centre head, director, analyst)."""
    return service.model_monitor(db, actor)


@router.get("/dissatisfied", response_model=DissatisfiedList)
def dissatisfied(
    actor: CurrentActor,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DissatisfiedList:
    """Dissatisfied customers in scope, newest answer first (numbers masked by role)."""
    return service.dissatisfied(db, actor, limit=limit, offset=offset)
