"""Pages of the reports (see web/nav.py for who sees them): the weekly and monthly reports
(/reports: the published periods and the chosen report) and the churn analysis report
(/reports/churn, by month). Both are printable (a print stylesheet hides the menu), draw their
charts with the ``chart`` macro and export a workbook with a sheet per section (``?export=xlsx``,
audited, export permission).

Every figure is the published document ``ops.reports.period_service`` returns, the same the
/api/v1/reports/periods and /api/v1/reports/churn-analysis routes answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from weiwan.core.errors import NotFoundError
from weiwan.ops.org.access import Actor
from weiwan.ops.reports import period_service as service
from weiwan.ops.reports.period_schemas import PeriodEntry, PeriodReportOut
from weiwan.web.i18n import current_language
from weiwan.web.i18n import gettext as _
from weiwan.web.pages.dashboard_charts import bar_chart, grouped_bar_chart
from weiwan.web.pages.deps import Db, LocalTz, PageActor, export_tables
from weiwan.web.report_tables import (
    churn_tables,
    language_of,
    member_name,
    period_tables,
)
from weiwan.web.tables import Table, wants_export
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)

#: breakdowns drawn as charts (this period against the same period last year)
CHARTED = ("branch", "brand", "value_tier")
#: more members than this: bars across
SIDEWAYS_FROM = 6


def _open(
    db: Any, actor: Actor, entries: list[PeriodEntry], key: str | None, branch: str | None
) -> tuple[PeriodEntry | None, PeriodReportOut | None]:
    """The chosen entry (``kind:key``, default the newest) and its document in scope."""
    chosen = entries[0] if entries else None
    if key:
        chosen = next((e for e in entries if f"{e.kind}:{e.key}" == key), None)
        if chosen is None:
            raise NotFoundError(_("No published report %(key)s.", key=key))
    if chosen is None:
        return None, None
    scope = branch if branch in chosen.scopes else None
    return chosen, service.get_report(db, actor, chosen.kind, chosen.key, scope)


def _sideways(option: dict[str, Any]) -> dict[str, Any]:
    """Bars drawn across (long or many labels, such as branches, stay readable)."""
    option["xAxis"], option["yAxis"] = option["yAxis"], {**option["xAxis"], "inverse": True}
    option["grid"] = {"left": 8, "right": 24, "top": 32, "bottom": 24, "containLabel": True}
    return option


def _by_dimension_charts(doc: dict[str, Any], tables: list[Table]) -> list[tuple[Table, Any]]:
    charts = []
    by_id = {t.table_id: t for t in tables}
    for dimension in CHARTED:
        table = by_id[f"by-{dimension.replace('_', '-')}"]
        rows = doc["breakdowns"][dimension]
        option: dict[str, Any] = grouped_bar_chart(
            [member_name(r["member"], dimension) for r in rows],
            [
                (_("Churn rate"), [r["churn_rate"] for r in rows]),
                (_("Same period last year"), [r["churn_rate_last_year"] for r in rows]),
            ],
        )
        charts.append((table, _sideways(option) if len(rows) > SIDEWAYS_FROM else option))
    channel = by_id["by-channel"]
    rows = doc["breakdowns"]["channel"]
    option = grouped_bar_chart(
        [member_name(r["member"], "channel") for r in rows],
        [
            (_("Value saved (CNY)"), [r["value_saved"] for r in rows]),
            (_("Retention cost (CNY)"), [r["cost"] for r in rows]),
        ],
        percent=False,
    )
    charts.append((channel, option))
    return charts


@router.get("/reports")
def reports_page(
    request: Request,
    actor: PageActor,
    db: Db,
    tz: LocalTz,
    report: str | None = None,
    branch: str | None = None,
) -> Response:
    """The published weekly and monthly reports and the chosen one (``report=week:2026-W44``,
    default the newest), for ``branch`` when the reader may choose one."""
    service.require_reports(actor)
    listed = service.list_periods(db, actor).items
    entries = [e for e in listed if e.kind in ("week", "month")]
    chosen, published = _open(db, actor, entries, report, branch)
    language = language_of(current_language())
    tables = period_tables(published.document, language) if published else []
    if wants_export(request) and published and chosen:
        name = f"{chosen.kind}-report-{chosen.key}-{published.scope.replace('*', 'all')}"
        return export_tables(request, actor, db, tables, name, tz)
    return render(
        request,
        "reports/period.html",
        {
            "entries": entries,
            "chosen": chosen,
            "published": published,
            "doc": published.document if published else None,
            "language": language,
            "tables": {t.table_id: t for t in tables},
            "charts": _by_dimension_charts(published.document, tables) if published else [],
        },
    )


@router.get("/reports/churn")
def churn_report_page(
    request: Request,
    actor: PageActor,
    db: Db,
    tz: LocalTz,
    month: str | None = None,
    branch: str | None = None,
) -> Response:
    """The churn analysis report of ``month`` (YYYY-MM, default the newest published)."""
    service.require_reports(actor)
    entries = service.list_periods(db, actor, "churn").items
    chosen, published = _open(db, actor, entries, f"churn:{month}" if month else None, branch)
    language = language_of(current_language())
    doc = published.document if published else None
    tables = churn_tables(doc, language) if doc else []
    if wants_export(request) and published and chosen:
        name = f"churn-analysis-{chosen.key}-{published.scope.replace('*', 'all')}"
        return export_tables(request, actor, db, tables, name, tz)
    by_id = {t.table_id: t for t in tables}
    charts: list[tuple[Table, Any]] = []
    if doc:
        for table_id in ("reasons", "destinations", "touchpoints"):
            table = by_id[table_id]
            charts.append(
                (
                    table,
                    bar_chart([r["member"] for r in table.rows], [r["share"] for r in table.rows]),
                )
            )
        tenure = by_id["tenure"]
        charts.insert(
            2,
            (
                tenure,
                grouped_bar_chart(
                    [r["member"] for r in tenure.rows],
                    [
                        (_("Leavers"), [r["leavers"] for r in tenure.rows]),
                        (_("Customer base"), [r["base"] for r in tenure.rows]),
                    ],
                ),
            ),
        )
    return render(
        request,
        "reports/churn.html",
        {
            "entries": entries,
            "chosen": chosen,
            "published": published,
            "doc": doc,
            "language": language,
            "tables": by_id,
            "charts": charts,
        },
    )
