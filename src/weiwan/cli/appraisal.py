"""``weiwan appraisal``: targets and monthly scorecards."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from weiwan.cli.base import console, out
from weiwan.core.errors import WeiwanError

appraisal_app = typer.Typer(help="Targets and monthly scorecards.", no_args_is_help=True)


def _month(value: str) -> date:
    try:
        return date.fromisoformat(f"{value}-01")
    except ValueError as exc:
        raise typer.BadParameter(f"not a month: {value!r}; use YYYY-MM") from exc


@appraisal_app.command("close")
def close(
    month: Annotated[str, typer.Option(help="The month to close, YYYY-MM.")],
) -> None:
    """Store a finished month's scorecards (re-closing replaces that month's)."""
    from weiwan.core.db import engine_for, session_scope
    from weiwan.core.settings import get_settings
    from weiwan.ops.appraisal.scorecards import close_month
    from weiwan.ops.migrate import upgrade

    first = _month(month)
    settings = get_settings()
    engine = engine_for(settings)
    try:
        upgrade(engine)
        with session_scope(engine) as session:
            stored = close_month(session, first, ZoneInfo(settings.timezone))
    except WeiwanError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    out.print(f"{first:%Y-%m}: {stored} scorecards stored")


@appraisal_app.command("show")
def show(
    month: Annotated[str, typer.Option(help="The month, YYYY-MM.")],
    level: Annotated[str, typer.Option(help="agent, team or branch.")] = "agent",
) -> None:
    """Print a month's scorecards of a level (stored if closed, else live), best first."""
    from weiwan.core.db import engine_for, session_scope
    from weiwan.core.settings import get_settings
    from weiwan.ops.appraisal.models import LEVELS
    from weiwan.ops.appraisal.scorecards import compute_month, is_closed, stored_cards

    if level not in LEVELS:
        raise typer.BadParameter(f"use {', '.join(LEVELS)}")
    first = _month(month)
    settings = get_settings()
    engine = engine_for(settings)
    try:
        with session_scope(engine) as session:
            closed = is_closed(session, first)
            cards = (
                stored_cards(session, first, level)
                if closed
                else compute_month(session, first, ZoneInfo(settings.timezone))[level]
            )
    finally:
        engine.dispose()
    table = Table(
        "rank",
        "name",
        "score",
        "contacts",
        "connect",
        "success",
        "saves",
        "quality",
        "complaints",
        title=f"{first:%Y-%m} {level} ({'closed' if closed else 'live'})",
    )

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value:.1%}"

    for card in cards:
        f = card.figures
        table.add_row(
            str(card.rank),
            card.name,
            "—" if card.score is None else f"{card.score:.1f}",
            f"{f['contacts']}/{f['expected_contacts']}",
            pct(f["connect_rate"]),
            pct(f["retention_success_rate"]),
            "—" if f["incremental_saves"] is None else f"{f['incremental_saves']:.2f}",
            "—" if f["quality_score"] is None else f"{f['quality_score']:.1f}",
            str(f["complaints"]),
        )
    out.print(table)
