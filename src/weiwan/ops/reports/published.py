"""Figures the pipeline published from the warehouse (``published_metrics``: rates stored as
numerator and denominator per branch, added up over the branches the reader sees)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import (
    func,
    select,
)
from sqlalchemy.orm import Session

from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import Branch
from weiwan.ops.reports.common import SCALE, metric_scope, ratio
from weiwan.ops.reports.models import PublishedMetric
from weiwan.ops.reports.schemas import (
    BranchFigure,
    Figure,
)


def snapshot_date(db: Session) -> date | None:
    """The snapshot the published figures come from (None before the first publish)."""
    return db.scalar(select(func.max(PublishedMetric.snapshot_date)))


def published_months(db: Session) -> list[date]:
    """Months with a published churn rate, newest first."""
    rows = db.scalars(
        select(PublishedMetric.period)
        .where(PublishedMetric.metric == "churn_rate", PublishedMetric.dimension == "total")
        .distinct()
        .order_by(PublishedMetric.period.desc())
    )
    return list(rows)


def series(
    db: Session,
    actor: Actor,
    metric: str,
    dimension: str = "total",
    *,
    period: date | None = None,
) -> list[Figure]:
    """``metric`` by period and member, added up over the branches the actor sees."""
    query = select(
        PublishedMetric.period,
        PublishedMetric.member,
        func.sum(PublishedMetric.numerator),
        func.sum(PublishedMetric.denominator),
    ).where(
        PublishedMetric.metric == metric,
        PublishedMetric.dimension == dimension,
        metric_scope(actor),
    )
    if period is not None:
        query = query.where(PublishedMetric.period == period)
    query = query.group_by(PublishedMetric.period, PublishedMetric.member).order_by(
        PublishedMetric.period, PublishedMetric.member
    )
    scale = SCALE.get(metric, 1.0)
    return [
        Figure(
            period=p,
            member=m,
            value=ratio(n, d, scale),
            numerator=float(n) if n is not None else None,
            denominator=float(d) if d is not None else None,
        )
        for p, m, n, d in db.execute(query)
    ]


def global_series(db: Session, metric: str, dimension: str) -> list[Figure]:
    """Figures that do not add up over branches (model AUC, PSI), as published."""
    query = (
        select(
            PublishedMetric.period,
            PublishedMetric.member,
            PublishedMetric.value,
            PublishedMetric.numerator,
            PublishedMetric.denominator,
        )
        .where(
            PublishedMetric.metric == metric,
            PublishedMetric.dimension == dimension,
            PublishedMetric.branch_id.is_(None),
        )
        .order_by(PublishedMetric.period, PublishedMetric.member)
    )
    return [
        Figure(period=p, member=m, value=v, numerator=n, denominator=d)
        for p, m, v, n, d in db.execute(query)
    ]


def by_branch(
    db: Session, actor: Actor, metric: str, period: date, *, lang: str = "zh-CN"
) -> list[BranchFigure]:
    """``metric`` (dimension total) of ``period`` per branch the actor sees, highest first."""
    name = Branch.name_en if lang == "en" else Branch.name_zh
    query = (
        select(
            PublishedMetric.branch_id,
            func.coalesce(name, PublishedMetric.branch_code),
            func.sum(PublishedMetric.numerator),
            func.sum(PublishedMetric.denominator),
        )
        .outerjoin(Branch, Branch.id == PublishedMetric.branch_id)
        .where(
            PublishedMetric.metric == metric,
            PublishedMetric.dimension == "total",
            PublishedMetric.period == period,
            metric_scope(actor),
        )
        .group_by(PublishedMetric.branch_id, name, PublishedMetric.branch_code)
    )
    scale = SCALE.get(metric, 1.0)
    rows = [
        BranchFigure(
            branch_id=b,
            branch=str(label or "—"),
            value=ratio(n, d, scale),
            numerator=n,
            denominator=d,
        )
        for b, label, n, d in db.execute(query)
    ]
    return sorted(rows, key=lambda r: (-(r.value or 0.0), r.branch))


def published_month(months: Sequence[date], month: date) -> date | None:
    """The newest published month not after ``month`` (else the oldest one)."""
    eligible = [m for m in months if m <= month]
    if eligible:
        return max(eligible)
    return min(months) if months else None
