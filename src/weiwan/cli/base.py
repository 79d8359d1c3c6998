"""The ``weiwan`` Typer app and what its command groups share: consoles, the progress bar,
errors, date options, the warehouse and the operational database the settings name."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from weiwan.core.errors import WeiwanError
from weiwan.core.logging import configure_logging
from weiwan.core.settings import get_settings

if TYPE_CHECKING:
    from weiwan.ops.imports import ImportFileError

T = TypeVar("T")

app = typer.Typer(
    help="weiwan (维挽): customer retention for telecom operators.", no_args_is_help=True
)
console = Console(stderr=True)
out = Console()


@app.callback()
def _setup() -> None:
    configure_logging(get_settings())


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """A Rich progress bar driven by ``(label, done, total)`` callbacks."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=not enabled, transient=True) as bar:
        task = bar.add_task("", total=1)

        def update(label: str, done: int, total: int) -> None:
            bar.update(task, description=label, completed=done, total=total)

        yield update


def with_progress(as_json: bool, work: Callable[[Callable[[str, int, int], None]], T]) -> T:
    """``work(update)`` under a progress bar (none with ``--json``); a :class:`WeiwanError`
    ends the command as :func:`fail` does."""
    try:
        with progress_bar(not as_json) as update:
            return work(update)
    except WeiwanError as exc:
        raise fail(exc, as_json) from exc


def fail(exc: Exception, as_json: bool = False) -> typer.Exit:
    """Print ``exc`` as an error (also as JSON on stdout when ``as_json``); the exit to raise."""
    if as_json:
        out.print_json(json.dumps({"error": str(exc)}, ensure_ascii=False))
    console.print(f"[red]error:[/red] {exc}", highlight=False, markup=True)
    return typer.Exit(code=1)


def parse_date(text: str) -> date:
    """A YYYY-MM-DD option as a date, or a usage error naming the text."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)") from None


def last_complete_month() -> str:
    """The month before today's, YYYY-MM."""
    today = date.today()
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def ops_engine() -> Any:
    """The operational database the settings name, migrated to the current schema."""
    from weiwan.core.db import engine_for
    from weiwan.ops.migrate import upgrade

    engine = engine_for(get_settings())
    upgrade(engine)
    return engine


SPARK_EXTRA = "PySpark and Java 17 (pip install 'weiwan[spark]')"


def open_warehouse() -> Any:
    """The warehouse of the engine the settings name (WEIWAN_ENGINE): the DuckDB file, or the
    Spark store (the caller closes it)."""
    settings = get_settings()
    if settings.engine == "spark":
        from weiwan.core.errors import WeiwanError

        try:
            from weiwan.analytics.spark_store import SparkWarehouse

            return SparkWarehouse.from_settings(settings)
        except ImportError as exc:  # PySpark is the optional extra
            raise fail(WeiwanError(f"WEIWAN_ENGINE=spark needs {SPARK_EXTRA}: {exc}")) from exc
        except WeiwanError as exc:  # e.g. WEIWAN_SPARK_CONF not key=value
            raise fail(exc) from exc
    from weiwan.analytics.warehouse import Warehouse

    return Warehouse.from_settings(settings)


def print_row_errors(exc: ImportFileError) -> None:
    """An imported file's errors on stderr, by row and column (the first 20, then how many
    more)."""
    for error in exc.errors[:20]:
        console.print(
            f"{exc.filename}: row {error.row}, {error.column}: {error.message}",
            highlight=False,
            markup=False,
        )
    if exc.total > 20:
        console.print(f"… {exc.total - 20} more errors", highlight=False, markup=False)
