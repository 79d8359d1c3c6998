"""The dashboards' pages within the reader's data scope: the overview, satisfaction, churn
analysis, model monitor and dissatisfied-customer composites, built from published figures
(``reports.published``) and live rates (``reports.live``)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    false,
    func,
    select,
    true,
)
from sqlalchemy.orm import Session, aliased

from weiwan.core.months import add_months
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.org.access import Actor
from weiwan.ops.org.roles import Scope
from weiwan.ops.org.service import mask_phone
from weiwan.ops.reports.common import (
    ANALYSIS_PARTS,
    CHURN_DIMENSIONS,
    LOWER_IS_BETTER,
    MODEL_ROLES,
    PANORAMA,
    TARGETS,
    arrow,
    change,
    month_bounds,
    month_start,
    require_dashboards,
)
from weiwan.ops.reports.live import leagues, live_rates, return_visits, user_counts
from weiwan.ops.reports.models import DissatisfiedCustomer
from weiwan.ops.reports.published import (
    by_branch,
    global_series,
    published_month,
    published_months,
    series,
    snapshot_date,
)
from weiwan.ops.reports.schemas import (
    BranchFigure,
    ChurnAnalysis,
    DissatisfiedList,
    DissatisfiedRow,
    Figure,
    Kpi,
    ModelMonitor,
    Overview,
    Satisfaction,
)
from weiwan.ops.scope import user_scope_clause
from weiwan.ops.tasks.models import CustomerAssignment, Task


def overview(
    db: Session, actor: Actor, month: date, tz: ZoneInfo, *, lang: str = "zh-CN"
) -> Overview:
    """The overview dashboard of ``month``: churn trend and breakdowns (the newest published
    month not after it), live rates and league tables of the month."""
    require_dashboards(actor)
    month = month_start(month)
    published = published_month(published_months(db), month)
    start, end = month_bounds(month, tz)
    churn_by: dict[str, list[Figure]] = {}
    branches: list[BranchFigure] = []
    if published is not None:
        for dimension in CHURN_DIMENSIONS:
            churn_by[dimension] = series(db, actor, "churn_rate", dimension, period=published)
        branches = by_branch(db, actor, "churn_rate", published, lang=lang)
    users = user_counts(db, actor, start, end, lang=lang)
    tables = leagues(db, actor, start, end, users=users)
    return Overview(
        month=month,
        published_month=published,
        snapshot_date=snapshot_date(db),
        churn_trend=series(db, actor, "churn_rate"),
        churn_by=churn_by,
        churn_by_branch=branches,
        rates=live_rates(db, actor, month, tz, users),
        agents=tables["agent"],
        teams=tables["team"],
        branches=tables["branch"],
    )


def _kpi(
    name: str,
    source: str,
    period: date | None,
    value: float | None,
    previous: float | None,
) -> Kpi:
    target = TARGETS.get(name)
    moved = change(value, previous)
    gap = change(value, target)
    return Kpi(
        name=name,
        source="live" if source == "live" else "published",
        period=period,
        value=value,
        previous=previous,
        change=moved,
        arrow=arrow(moved),
        target=target,
        target_gap=gap,
        target_arrow=arrow(gap),
        lower_is_better=name in LOWER_IS_BETTER,
    )


def satisfaction(db: Session, actor: Actor, month: date, tz: ZoneInfo) -> Satisfaction:
    """The satisfaction KPI panorama of ``month``: each metric with its month-on-month change
    and its gap to the target, arrows beyond ±5 %."""
    require_dashboards(actor)
    month = month_start(month)
    published = published_month(published_months(db), month)
    kpis: list[Kpi] = []
    for metric in PANORAMA:
        figures = {f.period: f.value for f in series(db, actor, metric)}
        current = figures.get(published) if published else None
        previous = figures.get(add_months(published, -1)) if published else None
        kpis.append(_kpi(metric, "published", published, current, previous))
    now = {r.name: r.value for r in return_visits(db, actor, *month_bounds(month, tz))}
    earlier = month_bounds(add_months(month, -1), tz)
    before = {r.name: r.value for r in return_visits(db, actor, *earlier)}
    for name in ("visit_coverage", "visit_success", "visit_feedback"):
        kpis.append(_kpi(name, "live", month, now.get(name), before.get(name)))
    return Satisfaction(
        month=month,
        kpis=kpis,
        trend=series(db, actor, "satisfaction_rate"),
        by_touchpoint=series(db, actor, "satisfaction_rate", "touchpoint", period=published)
        if published
        else [],
    )


def churn_analysis(db: Session, actor: Actor) -> ChurnAnalysis:
    """The published churn analysis (reasons, destinations, tenure of leavers vs the base,
    touchpoints before leaving, churn cost) over the branches the actor sees."""
    require_dashboards(actor)
    parts = {
        f"{metric}:{dimension}": series(db, actor, metric, dimension)
        for metric, dimension in ANALYSIS_PARTS
    }
    reasons = parts["churn_reason:reason"]
    leavers = max((f.denominator or 0.0 for f in reasons), default=0.0)
    period = reasons[0].period if reasons else None
    return ChurnAnalysis(
        period=period, snapshot_date=snapshot_date(db), leavers=leavers, parts=parts
    )


def model_monitor(db: Session, actor: Actor) -> ModelMonitor:
    """Realised AUC per scored snapshot, hold-out AUC per model version, the score's PSI over
    time and every feature's PSI at the newest drift snapshot (highest first)."""
    actor.require(*MODEL_ROLES)
    psi = global_series(db, "psi", "feature")
    latest = max((f.period for f in psi), default=None)
    drift = sorted(
        (f for f in psi if f.period == latest and f.member != "score"),
        key=lambda f: -(f.value or 0.0),
    )
    return ModelMonitor(
        auc=global_series(db, "model_auc", "realised"),
        holdout_auc=global_series(db, "model_auc", "holdout"),
        score_psi=[f for f in psi if f.member == "score"],
        drift_period=latest,
        drift=drift,
    )


def _dissatisfied_scope(actor: Actor) -> ColumnElement[bool]:
    """The customers ``scope.customer_scope_clause`` lets the actor see, decided
    on the list's own columns (no scan of the customer view): everyone, the published branch
    for branch roles, else the customers the users in scope manage or hold a task for."""
    if actor.scope is Scope.ALL:
        return true()
    if actor.scope is Scope.BRANCH:
        if not actor.branch_ids:
            return false()
        return DissatisfiedCustomer.branch_id.in_(actor.branch_ids)
    listed = aliased(DissatisfiedCustomer)
    managed = (
        select(listed.id)
        .join(CustomerAssignment, CustomerAssignment.subscriber_id == listed.subscriber_id)
        .where(user_scope_clause(actor, CustomerAssignment.user_id))
    )
    tasked = (
        select(listed.id)
        .join(Task, Task.subscriber_id == listed.subscriber_id)
        .where(Task.assignee_id.is_not(None), user_scope_clause(actor, Task.assignee_id))
    )
    # the list's rows joined to their customers' managers and tasks: a few lookups per row
    return DissatisfiedCustomer.id.in_(managed.union(tasked))


def dissatisfied(
    db: Session, actor: Actor, *, limit: int = 200, offset: int = 0
) -> DissatisfiedList:
    """The dissatisfied customers (低分客户) the actor may see, newest answer first; phone
    numbers masked unless the role may see them."""
    require_dashboards(actor)
    scope = _dissatisfied_scope(actor)
    # the page's rows first (sorted on the list alone, with the count of every row in scope in
    # the same pass), then their customers by key
    page = (
        select(DissatisfiedCustomer, func.count().over().label("total"))
        .where(scope)
        .order_by(DissatisfiedCustomer.survey_time.desc(), DissatisfiedCustomer.subscriber_id)
        .limit(limit)
        .offset(offset)
        .subquery("page")
    )
    query = (
        select(
            page.c.subscriber_id,
            CustomerView.name,
            CustomerView.msisdn,
            func.coalesce(CustomerView.branch_code, page.c.branch_code),
            page.c.survey_time,
            page.c.touchpoint,
            page.c.score,
            page.c.total,
        )
        .select_from(page)
        .outerjoin(CustomerView, CustomerView.subscriber_id == page.c.subscriber_id)
        .order_by(page.c.survey_time.desc(), page.c.subscriber_id)
    )
    found = db.execute(query).all()
    rows = [
        DissatisfiedRow(
            subscriber_id=sid,
            name=name,
            msisdn=mask_phone(msisdn, actor.role) if msisdn else None,
            branch=branch,
            survey_time=at,
            touchpoint=touchpoint,
            score=score,
        )
        for sid, name, msisdn, branch, at, touchpoint, score, _total in found
    ]
    if found:
        total = int(found[0][-1])
    elif offset:  # past the end: the count alone
        total = int(
            db.scalar(select(func.count()).select_from(DissatisfiedCustomer).where(scope)) or 0
        )
    else:
        total = 0
    return DissatisfiedList(total=total, rows=rows)
