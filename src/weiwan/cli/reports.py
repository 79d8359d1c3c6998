"""``weiwan report``: weekly and monthly reports and the churn analysis report, computed on
demand from the store of the engine the settings name (the DuckDB file or Spark; the same
functions the pipeline publishes with, so the numbers equal the pages' for the same snapshot)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from weiwan.cli.base import console, fail, open_warehouse, out
from weiwan.core.errors import WeiwanError

report_app = typer.Typer(
    help="Weekly and monthly reports and the churn analysis report.", no_args_is_help=True
)

Lang = Annotated[str, typer.Option("--lang", help="Language of the text: zh-CN or en.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]
Xlsx = Annotated[
    Path | None, typer.Option("--xlsx", help="Also write an Excel workbook (a sheet per section).")
]
Branches = Annotated[
    str | None,
    typer.Option("--branch", help="Branch codes to add up, comma-separated (default: all)."),
]
Snapshot = Annotated[
    str | None,
    typer.Option(help="Data as delivered by this date, YYYY-MM-DD (default: the latest)."),
]
Targets = Annotated[
    Path | None, typer.Option("--targets", help="Targets file (default: the shipped one).")
]


def _language(value: str) -> str:
    if value not in ("zh-CN", "en"):
        raise typer.BadParameter(f"not a language: {value!r}; use zh-CN or en")
    return value


def _latest_snapshot(warehouse: Any) -> date:
    from weiwan.analytics.warehouse import latest_delivery

    day = latest_delivery(warehouse)
    if day is None:
        raise WeiwanError("the warehouse holds no subscribers: run `weiwan ingest` first")
    return day


def _emit(
    document: dict[str, Any],
    tables: Any,
    language: str,
    as_json: bool,
    xlsx: Path | None,
    title: str,
) -> None:
    from zoneinfo import ZoneInfo

    from weiwan.core.settings import get_settings
    from weiwan.web.i18n import use_locale
    from weiwan.web.tables import workbook_bytes

    if xlsx is not None:
        with use_locale(language):
            xlsx.write_bytes(
                workbook_bytes(tables(document, language), ZoneInfo(get_settings().timezone))
            )
    if as_json:
        out.print_json(json.dumps(document, ensure_ascii=False, allow_nan=False))
        return
    out.print(f"[bold]{title}[/bold]", highlight=False)
    for line in document["findings"][language]:
        out.print(f"- {line}", highlight=False, markup=False)
    if xlsx is not None:
        out.print(f"wrote {xlsx}", highlight=False)


def _run(compute: Any, snapshot: str | None) -> tuple[dict[str, Any], date]:
    """``compute(store, day)`` on the store of the engine the settings name (WEIWAN_ENGINE)."""
    try:
        given = date.fromisoformat(snapshot) if snapshot else None
    except ValueError as exc:
        raise typer.BadParameter(f"{snapshot!r} is not a date (YYYY-MM-DD)") from exc
    warehouse = open_warehouse()
    try:
        day = given or _latest_snapshot(warehouse)
        return compute(warehouse, day), day
    finally:
        warehouse.close()


def _codes(branch: str | None) -> list[str] | None:
    return [c.strip() for c in branch.split(",") if c.strip()] if branch else None


@report_app.command("churn")
def churn(
    period: Annotated[str, typer.Option("--period", help="The month, YYYY-MM.")],
    lang: Lang = "zh-CN",
    as_json: AsJson = False,
    xlsx: Xlsx = None,
    branch: Branches = None,
    snapshot: Snapshot = None,
    targets: Targets = None,
) -> None:
    """The churn analysis report (流失分析报告) of a month: reasons, destinations, tenure,
    touchpoints, cost and findings."""
    from weiwan.analytics.churn_analysis import churn_report
    from weiwan.analytics.period_reports import load_targets, parse_period
    from weiwan.web.report_tables import churn_tables

    language = _language(lang)
    try:
        month = parse_period("month", period)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    try:
        goals = load_targets(targets)
        document, _day = _run(
            lambda wh, day: churn_report(
                wh, day, month.start, branches=_codes(branch), targets=goals
            ),
            snapshot,
        )
        _emit(document, churn_tables, language, as_json, xlsx, f"churn analysis {period}")
    except WeiwanError as exc:
        raise fail(exc) from exc


@report_app.command("period")
def period_command(
    week: Annotated[str | None, typer.Option("--week", help="An ISO week, YYYY-Www.")] = None,
    month: Annotated[str | None, typer.Option("--month", help="A month, YYYY-MM.")] = None,
    lang: Lang = "zh-CN",
    as_json: AsJson = False,
    xlsx: Xlsx = None,
    branch: Branches = None,
    snapshot: Snapshot = None,
    targets: Targets = None,
) -> None:
    """The weekly (周报) or monthly (月报) report: churn, satisfaction, tenure, saves, cost
    and ROI against last year and the targets, by branch, brand, value tier and channel."""
    from weiwan.analytics.period_report_doc import period_report
    from weiwan.analytics.period_reports import load_targets, parse_period
    from weiwan.web.report_tables import period_tables

    language = _language(lang)
    if (week is None) == (month is None):
        raise typer.BadParameter("give exactly one of --week YYYY-Www or --month YYYY-MM")
    kind, key = ("week", week) if week is not None else ("month", month or "")
    try:
        chosen = parse_period(kind, key)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    try:
        goals = load_targets(targets)
        document, day = _run(
            lambda wh, day: period_report(wh, day, chosen, goals, _codes(branch)), snapshot
        )
        if chosen.last_day > day:
            console.print(f"note: {key} is not closed by the snapshot {day}: partial figures")
        _emit(document, period_tables, language, as_json, xlsx, f"{kind} report {key}")
    except WeiwanError as exc:
        raise fail(exc) from exc
