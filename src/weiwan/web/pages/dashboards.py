"""Pages of the dashboards area (see web/nav.py for who sees them): the overview (/dashboards),
the satisfaction KPI panorama (/dashboards/satisfaction) with its dissatisfied-customer list,
the churn analysis (/dashboards/churn) and the model monitor (/dashboards/models).

Every figure comes from ``ops.reports`` (service, published, live: the same objects the
/api/v1/reports routes return), every chart shows its data table and every table exports to Excel.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from weiwan.core.errors import InvalidRequestError
from weiwan.ops.reports import common as reports_common
from weiwan.ops.reports import published as reports_published
from weiwan.ops.reports import service
from weiwan.ops.reports.schemas import BranchFigure, Figure, LeagueRow
from weiwan.web.feature_labels import feature_label
from weiwan.web.i18n import current_language
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.pages.dashboard_charts import bar_chart, grouped_bar_chart, line_chart
from weiwan.web.pages.dashboard_labels import (
    DIMENSIONS,
    NUMBER_METRICS,
    member_label,
    metric_label,
)
from weiwan.web.pages.deps import Db, LocalTz, PageActor, export_tables
from weiwan.web.tables import Column, Table, wants_export
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)

LEAGUE_COLUMNS = (
    Column("rank", _l("Rank"), "int"),
    Column("name", _l("Name")),
    Column("contacts", _l("Contacts"), "int"),
    Column("calls", _l("Calls"), "int"),
    Column("connect_rate", _l("Connect rate"), "percent"),
    Column("reached", _l("Reached"), "int"),
    Column("accepted", _l("Accepted"), "int"),
    Column("success_rate", _l("Success rate"), "percent"),
)
RATE_COLUMNS = (
    Column("label", _l("Metric")),
    Column("value", _l("Value"), "percent"),
    Column("numerator", _l("Numerator"), "int"),
    Column("denominator", _l("Denominator"), "int"),
    Column("target", _l("Goal"), "percent"),
)


def parse_month(value: str | None, tz: ZoneInfo) -> date:
    """``YYYY-MM`` as the month's first day; this month of the centre when empty."""
    try:
        return reports_common.parse_month(value, tz)
    except InvalidRequestError as exc:
        raise InvalidRequestError(_("Use a month like 2026-10."), field="month") from exc


def month_options(db: Any, tz: ZoneInfo) -> list[date]:
    """This month and every published month, newest first."""
    now = datetime.now(tz).date().replace(day=1)
    return sorted({now, *reports_published.published_months(db)}, reverse=True)


def _language(request: Request) -> str:
    return "en" if current_language() == "en" else "zh-CN"


def _figure_rows(figures: list[Figure], dimension: str = "") -> list[dict[str, Any]]:
    return [
        {
            "period": f.period,
            "month": f.period.strftime("%Y-%m"),
            "member": member_label(f.member, dimension),
            "value": f.value,
            "numerator": f.numerator,
            "denominator": f.denominator,
        }
        for f in figures
    ]


def figure_table(
    table_id: str,
    figures: list[Figure],
    title: Any,
    *,
    dimension: str = "",
    by_month: bool = False,
    value_label: Any = None,
    value_kind: str = "percent",
    counts: tuple[Any, Any] | None = None,
) -> Table:
    """A table of figures: month or member, value, and the counts it is made of."""
    first = Column("month", _l("Month")) if by_month else Column("member", _l("Item"))
    columns = [first, Column("value", value_label or _l("Value"), value_kind)]  # type: ignore[arg-type]
    if counts is not None:
        columns += [
            Column("numerator", counts[0], "number" if value_kind == "money" else "int"),
            Column("denominator", counts[1], "int"),
        ]
    return Table(
        table_id,
        columns,
        _figure_rows(figures, dimension),
        title=title,
        empty=_("Nothing published yet: run the daily pipeline and publish."),
    )


def league_table(table_id: str, rows: list[LeagueRow], title: Any) -> Table:
    """A league table (排行榜): best success rate first."""
    data = [{"rank": i, **row.model_dump()} for i, row in enumerate(rows, start=1)]
    return Table(
        table_id,
        LEAGUE_COLUMNS,
        data,
        title=title,
        empty=_("No contacts in this month within your scope."),
    )


def branch_table(figures: list[BranchFigure]) -> Table:
    """Churn rate per branch of the published month."""
    rows = [f.model_dump() for f in figures]
    return Table(
        "churn-by-branch",
        (
            Column("branch", _l("Branch")),
            Column("value", _l("Churn rate"), "percent"),
            Column("numerator", _l("Churned"), "int"),
            Column("denominator", _l("Subscribers at month start"), "int"),
        ),
        rows,
        title=_("Churn rate by branch"),
        empty=_("Nothing published yet: run the daily pipeline and publish."),
    )


@router.get("/dashboards")
def overview_page(
    request: Request,
    actor: PageActor,
    db: Db,
    tz: LocalTz,
    month: str | None = None,
) -> Response:
    """KPI cards, churn trend, churn by brand / channel / segment / branch, league tables."""
    reports_common.require_dashboards(actor)
    chosen = parse_month(month, tz)
    data = service.overview(db, actor, chosen, tz, lang=_language(request))
    churned = (_l("Churned"), _l("Subscribers at month start"))
    trend = figure_table(
        "churn-trend",
        data.churn_trend,
        _("Churn rate by month"),
        by_month=True,
        value_label=_l("Churn rate"),
        counts=churned,
    )
    breakdowns = [
        (
            dimension,
            figure_table(
                f"churn-by-{dimension.replace('_', '-')}",
                figures,
                DIMENSIONS[dimension],
                dimension=dimension,
                value_label=_l("Churn rate"),
                counts=churned,
            ),
        )
        for dimension, figures in data.churn_by.items()
    ]
    branches = branch_table(data.churn_by_branch)
    rates = Table(
        "live-rates",
        RATE_COLUMNS,
        [{"label": metric_label(r.name), **r.model_dump()} for r in data.rates],
        title=_("Operational rates of %(month)s", month=data.month.strftime("%Y-%m")),
    )
    leagues = [
        league_table("league-agents", data.agents, _("Agents")),
        league_table("league-teams", data.teams, _("Teams")),
        league_table("league-branches", data.branches, _("Branches")),
    ]
    tables = [trend, *(t for _d, t in breakdowns), branches, rates, *leagues]
    if wants_export(request):
        return export_tables(request, actor, db, tables, f"dashboard-{data.month:%Y-%m}", tz)
    latest = data.churn_trend[-1] if data.churn_trend else None
    return render(
        request,
        "dashboards/overview.html",
        {
            "data": data,
            "months": month_options(db, tz),
            "latest": latest,
            "rates": data.rates,
            "metric_label": metric_label,
            "trend": trend,
            "trend_chart": line_chart(
                [r["month"] for r in trend.rows],
                [(str(_("Churn rate")), [r["value"] for r in trend.rows])],
            ),
            "breakdowns": [
                (t, bar_chart([r["member"] for r in t.rows], [r["value"] for r in t.rows]))
                for _d, t in breakdowns
            ],
            "branches": branches,
            "branch_chart": bar_chart(
                [r["branch"] for r in branches.rows], [r["value"] for r in branches.rows]
            ),
            "rates_table": rates,
            "leagues": leagues,
        },
    )


def kpi_rows(kpis: list[Any]) -> list[dict[str, Any]]:
    """The panorama's rows: metric, value, last month, change, target, gap, arrows."""
    return [
        {
            "name": k.name,
            "label": metric_label(k.name),
            "kind": "number" if k.name in NUMBER_METRICS else "percent",
            "month": k.period.strftime("%Y-%m") if k.period else None,
            "value": k.value,
            "previous": k.previous,
            "change": k.change,
            "arrow": k.arrow,
            "target": k.target,
            "target_gap": k.target_gap,
            "target_arrow": k.target_arrow,
            "lower_is_better": k.lower_is_better,
            "arrow_text": {"up": "▲", "down": "▼"}.get(k.arrow or "", ""),
            "target_arrow_text": {"up": "▲", "down": "▼"}.get(k.target_arrow or "", ""),
        }
        for k in kpis
    ]


def panorama_columns(kind: str) -> tuple[Column, ...]:
    """The panorama's columns; ``kind`` is how values show (percent for rates)."""
    value_kind: Any = "percent" if kind == "percent" else "number"
    return (
        Column("label", _l("Metric")),
        Column("month", _l("Month")),
        Column("value", _l("Value"), value_kind),
        Column("previous", _l("Last month"), value_kind),
        Column("change", _l("Month on month"), "percent"),
        Column("arrow_text", _l("Alarm (month on month)")),
        Column("target", _l("Goal"), value_kind),
        Column("target_gap", _l("Against target"), "percent"),
        Column("target_arrow_text", _l("Alarm (against target)")),
    )


@router.get("/dashboards/satisfaction")
def satisfaction_page(
    request: Request, actor: PageActor, db: Db, tz: LocalTz, month: str | None = None
) -> Response:
    """The satisfaction KPI panorama: each metric against last month and its target, arrows
    beyond ±5 % (green when the move is good for that metric, red when bad), and the way to
    the dissatisfied customers."""
    reports_common.require_dashboards(actor)
    data = service.satisfaction(db, actor, parse_month(month, tz), tz)
    rows = kpi_rows(data.kpis)
    panorama = Table(
        "kpi-panorama",
        panorama_columns("percent"),
        [r for r in rows if r["kind"] == "percent"],
        title=_("Satisfaction KPI panorama (rates)"),
    )
    figures = Table(
        "kpi-figures",
        panorama_columns("number"),
        [r for r in rows if r["kind"] == "number"],
        title=_("Satisfaction KPI panorama (figures)"),
    )
    trend = figure_table(
        "satisfaction-trend",
        data.trend,
        _("Satisfaction rate by month"),
        by_month=True,
        value_label=_l("Satisfaction rate"),
        counts=(_l("Satisfied answers"), _l("Answers")),
    )
    touchpoints = figure_table(
        "satisfaction-by-touchpoint",
        data.by_touchpoint,
        _("Satisfaction rate by touchpoint"),
        value_label=_l("Satisfaction rate"),
        counts=(_l("Satisfied answers"), _l("Answers")),
    )
    tables = [panorama, figures, trend, touchpoints]
    if wants_export(request):
        return export_tables(request, actor, db, tables, f"satisfaction-{data.month:%Y-%m}", tz)
    return render(
        request,
        "dashboards/satisfaction.html",
        {
            "data": data,
            "months": month_options(db, tz),
            "kpis": rows,
            "panorama": panorama,
            "figures": figures,
            "trend": trend,
            "trend_chart": line_chart(
                [r["month"] for r in trend.rows],
                [(str(_("Satisfaction rate")), [r["value"] for r in trend.rows])],
            ),
            "touchpoints": touchpoints,
            "touchpoint_chart": bar_chart(
                [r["member"] for r in touchpoints.rows], [r["value"] for r in touchpoints.rows]
            ),
        },
    )


DISSATISFIED_COLUMNS = (
    Column(
        "subscriber_id",
        _l("Subscriber"),
        "link",
        href=lambda row: f"/customers/{row['subscriber_id']}",
    ),
    Column("name", _l("Name")),
    Column("msisdn", _l("Phone number")),
    Column("branch", _l("Branch")),
    Column("survey_time", _l("Answered at"), "datetime"),
    Column("touchpoint_label", _l("Touchpoint")),
    Column("score", _l("Score"), "int"),
)
PAGE_SIZE = 200
#: a PSI above this means the population moved: retrain (analytics.churn.drift.WARN_ABOVE)
PSI_WARNING = 0.2


@router.get("/dashboards/satisfaction/dissatisfied")
def dissatisfied_page(
    request: Request, actor: PageActor, db: Db, tz: LocalTz, page: int = 1
) -> Response:
    """The dissatisfied customers (low survey scores) the reader may see, for second care;
    phone numbers masked unless the role may see them."""
    reports_common.require_dashboards(actor)
    page = max(1, page)
    exporting = wants_export(request)
    limit = 10_000 if exporting else PAGE_SIZE
    data = service.dissatisfied(
        db, actor, limit=limit, offset=0 if exporting else (page - 1) * limit
    )
    rows = [
        {**r.model_dump(), "touchpoint_label": member_label(r.touchpoint or "unknown")}
        for r in data.rows
    ]
    table = Table(
        "dissatisfied",
        DISSATISFIED_COLUMNS,
        rows,
        title=_("Dissatisfied customers"),
        empty=_("No dissatisfied customers in your scope."),
    )
    if exporting:
        return export_tables(request, actor, db, [table], "dissatisfied-customers", tz)
    pages = max(1, -(-data.total // PAGE_SIZE))
    return render(
        request,
        "dashboards/dissatisfied.html",
        {"table": table, "total": data.total, "page": page, "pages": pages},
    )


ANALYSIS_TITLES: dict[str, Any] = {
    "churn_reason:reason": _l("Churn reasons"),
    "churn_reason_kind:reason_kind": _l("Internal vs external reasons"),
    "churn_reason_control:reason_control": _l("Controllable vs not"),
    "churn_destination:destination": _l("Destinations (which competitor)"),
    "churn_touchpoint:touchpoint": _l("Touchpoints in the 90 days before leaving"),
}


@router.get("/dashboards/churn")
def churn_page(request: Request, actor: PageActor, db: Db, tz: LocalTz) -> Response:
    """Churn analysis: reasons, destinations, tenure of leavers vs the base, touchpoints
    before leaving and churn cost, over the branches the reader sees."""
    reports_common.require_dashboards(actor)
    data = service.churn_analysis(db, actor)
    charts = []
    for key, title in ANALYSIS_TITLES.items():
        dimension = key.split(":")[1]
        figures = sorted(data.parts.get(key, []), key=lambda f: -(f.numerator or 0.0))
        table = figure_table(
            key.replace(":", "-").replace("_", "-"),
            figures,
            title,
            dimension=dimension,
            value_label=_l("Share"),
            counts=(_l("Customers"), _l("Out of")),
        )
        charts.append(
            (table, bar_chart([r["member"] for r in table.rows], [r["value"] for r in table.rows]))
        )
    tenure = tenure_table(data.parts)
    charts.insert(
        4,
        (
            tenure,
            grouped_bar_chart(
                [r["member"] for r in tenure.rows],
                [
                    (str(_("Leavers")), [r["leavers"] for r in tenure.rows]),
                    (str(_("Customer base")), [r["base"] for r in tenure.rows]),
                ],
            ),
        ),
    )
    cost_rows = [
        {
            "member": member_label(f.member),
            "value": f.numerator,
            "per_leaver": reports_common.ratio(f.numerator, f.denominator),
        }
        for f in data.parts.get("churn_cost:cost", [])
    ]
    cost = Table(
        "churn-cost",
        (
            Column("member", _l("Cost")),
            Column("value", _l("Amount (CNY)"), "money"),
            Column("per_leaver", _l("Per leaver (CNY)"), "money"),
        ),
        cost_rows,
        title=_("Churn cost"),
        empty=_("Nothing published yet: run the daily pipeline and publish."),
    )
    tables = [t for t, _c in charts] + [cost]
    if wants_export(request):
        return export_tables(request, actor, db, tables, "churn-analysis", tz)
    return render(
        request,
        "dashboards/churn.html",
        {"data": data, "charts": charts, "cost": cost},
    )


def tenure_table(parts: dict[str, list[Figure]]) -> Table:
    """Tenure bands: the share of leavers and of the customer base in each."""
    leavers = {f.member: f for f in parts.get("churn_tenure:leavers", [])}
    base = {f.member: f for f in parts.get("churn_tenure:base", [])}
    rows = [
        {
            "member": member_label(band, "leavers"),
            "leavers": leavers[band].value if band in leavers else None,
            "base": base[band].value if band in base else None,
            "leaver_count": leavers[band].numerator if band in leavers else None,
            "base_count": base[band].numerator if band in base else None,
        }
        for band in sorted({*leavers, *base}, key=_band_start)
    ]
    return Table(
        "churn-tenure",
        (
            Column("member", _l("Tenure")),
            Column("leavers", _l("Share of leavers"), "percent"),
            Column("base", _l("Share of the customer base"), "percent"),
            Column("leaver_count", _l("Leavers"), "int"),
            Column("base_count", _l("Customers"), "int"),
        ),
        rows,
        title=_("Tenure of leavers vs the customer base"),
        empty=_("Nothing published yet: run the daily pipeline and publish."),
    )


def _band_start(member: str) -> int:
    digits = member.split("-")[0].rstrip("+")
    return int(digits) if digits.isdigit() else 10_000


@router.get("/dashboards/models")
def models_page(request: Request, actor: PageActor, db: Db, tz: LocalTz) -> Response:
    """Model monitor: realised and hold-out AUC over time, the score's stability over time
    and every feature's PSI at the newest snapshot (warning above 0.2)."""
    actor.require(*reports_common.MODEL_ROLES)
    data = service.model_monitor(db, actor)
    realised = [_auc_row(f, _("Realised")) for f in data.auc]
    holdout = [_auc_row(f, _("Hold-out")) for f in data.holdout_auc]
    auc_rows = realised + holdout
    auc = Table(
        "model-auc",
        (
            Column("date", _l("Snapshot"), "date"),
            Column("kind", _l("Measured on")),
            Column("version", _l("Model version")),
            Column("value", _l("ROC AUC"), "number"),
            Column("churners", _l("Churners"), "int"),
            Column("customers", _l("Customers"), "int"),
        ),
        auc_rows,
        title=_("AUC over time"),
        empty=_("No model quality measured yet."),
    )
    psi = Table(
        "score-psi",
        (Column("date", _l("Snapshot"), "date"), Column("value", _l("PSI"), "number")),
        [{"date": f.period, "value": f.value} for f in data.score_psi],
        title=_("Score stability (PSI) over time"),
        empty=_("No drift measured yet."),
    )
    drift = Table(
        "feature-drift",
        (
            Column("feature", _l("Feature")),
            Column("value", _l("PSI"), "number"),
            Column("warning", _l("Above 0.2")),
        ),
        [
            {
                "feature": feature_label(f.member),
                "value": f.value,
                "warning": _("Yes") if (f.value or 0) > PSI_WARNING else "",
            }
            for f in data.drift
        ],
        title=_("Feature drift"),
        empty=_("No drift measured yet."),
    )
    tables = [auc, psi, drift]
    if wants_export(request):
        return export_tables(request, actor, db, tables, "model-monitor", tz)
    dates = sorted({str(r["date"]) for r in auc_rows})
    return render(
        request,
        "dashboards/models.html",
        {
            "data": data,
            "auc": auc,
            "auc_chart": line_chart(
                dates,
                [
                    (str(_("Realised")), _aligned(dates, realised)),
                    (str(_("Hold-out")), _aligned(dates, holdout)),
                ],
                percent=False,
            ),
            "psi": psi,
            "psi_chart": line_chart(
                [str(r["date"]) for r in psi.rows],
                [(str(_("PSI")), [r["value"] for r in psi.rows])],
                percent=False,
                threshold=PSI_WARNING,
            ),
            "drift": drift,
            "drift_chart": bar_chart(
                [r["feature"] for r in drift.rows[:20]],
                [r["value"] for r in drift.rows[:20]],
                percent=False,
                threshold=PSI_WARNING,
            ),
        },
    )


def _auc_row(figure: Figure, kind: str) -> dict[str, Any]:
    return {
        "date": figure.period,
        "kind": kind,
        "version": figure.member,
        "value": figure.value,
        "churners": figure.numerator,
        "customers": figure.denominator,
    }


def _aligned(dates: list[str], rows: list[dict[str, Any]]) -> list[float | None]:
    by_date = {str(r["date"]): r["value"] for r in rows}
    return [by_date.get(d) for d in dates]
