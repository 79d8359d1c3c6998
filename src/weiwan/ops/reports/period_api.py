"""Routes: the published weekly, monthly and churn analysis reports (scoped, never the
warehouse)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from weiwan.ops.deps import CurrentActor, Db
from weiwan.ops.reports import period_service as service
from weiwan.ops.reports.period_schemas import PeriodList, PeriodReportOut

router = APIRouter(prefix="/reports", tags=["reports"])

BranchQuery = Annotated[
    str | None,
    Query(max_length=64, description="a branch code or * (whole operator); default: see docs"),
]
MonthPath = Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]


@router.get("/periods", response_model=PeriodList)
def periods(
    actor: CurrentActor,
    db: Db,
    kind: Annotated[Literal["week", "month", "churn"] | None, Query()] = None,
) -> PeriodList:
    """Published report periods the caller may open, newest first."""
    return service.list_periods(db, actor, kind)


@router.get("/periods/{kind}/{key}", response_model=PeriodReportOut)
def period_report(
    actor: CurrentActor,
    db: Db,
    kind: Literal["week", "month"],
    key: Annotated[str, Path(pattern=r"^\d{4}-(W(0[1-9]|[1-4]\d|5[0-3])|0[1-9]|1[0-2])$")],
    branch: BranchQuery = None,
) -> PeriodReportOut:
    """The weekly (``YYYY-Www``) or monthly (``YYYY-MM``) report within the caller's scope."""
    return service.get_report(db, actor, kind, key, branch)


@router.get("/churn-analysis/{month}", response_model=PeriodReportOut)
def churn_analysis_report(
    actor: CurrentActor, db: Db, month: MonthPath, branch: BranchQuery = None
) -> PeriodReportOut:
    """The churn analysis report of a month within the caller's scope."""
    return service.get_report(db, actor, "churn", month, branch)
