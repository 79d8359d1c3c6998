"""``weiwan simulate``, ``ingest``, ``contract``, ``pipeline`` and ``publish``: data in, the daily
run, and its results out to the operational database."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.markup import escape

from weiwan.cli.base import (
    console,
    fail,
    last_complete_month,
    open_warehouse,
    ops_engine,
    out,
    parse_date,
    progress_bar,
)
from weiwan.core.errors import WeiwanError
from weiwan.core.settings import get_settings

if TYPE_CHECKING:
    from weiwan.analytics.ingest import IngestResult


contract_app = typer.Typer(help="The data contract for operator extracts.", no_args_is_help=True)
pipeline_app = typer.Typer(help="The daily pipeline.", no_args_is_help=True)


simulate_app = typer.Typer(
    help="Simulate an operator: extracts in OUT/extracts, ground truth in OUT/truth, the "
    "real-time events in OUT/events.",
    invoke_without_command=True,
)


@simulate_app.callback()
def simulate(
    ctx: typer.Context,
    subscribers: Annotated[int, typer.Option(min=100, help="Subscriber rows to create.")] = 20_000,
    months: Annotated[int, typer.Option(min=2, max=60, help="Months of history.")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same operator.")] = 42,
    out_dir: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("var/sim"),
    end_month: Annotated[
        str | None, typer.Option(help="Last month (YYYY-MM); default the last complete month.")
    ] = None,
    fmt: Annotated[
        Literal["parquet", "csv"], typer.Option("--format", help="Extract file format.")
    ] = "parquet",
    events: Annotated[
        bool,
        typer.Option(
            "--events/--no-events",
            help="Also write the real-time event stream (OUT/events/events.parquet).",
        ),
    ] = True,
) -> None:
    """Simulate an operator: extracts in OUT/extracts, ground truth in OUT/truth, the real-time
    event stream in OUT/events."""
    if ctx.invoked_subcommand is not None:
        return
    from weiwan.sim import simulate as run_simulation

    with progress_bar() as update:
        summary = run_simulation(
            subscribers=subscribers,
            months=months,
            seed=seed,
            out=out_dir,
            end_month=end_month or last_complete_month(),
            fmt=fmt,
            progress=update,
            events=events,
        )
    out.print(
        f"simulated {summary.subscribers:,} subscribers x {summary.months} months -> {out_dir}"
    )
    for name, rows in summary.rows.items():
        out.print(f"  {name:<16} {rows:>12,} rows")
    if events:
        out.print(f"  {'events':<16} {summary.events:>12,} rows (events/events.parquet)")


@simulate_app.command("replay-events")
def replay_events(
    directory: Annotated[Path, typer.Argument(help="A simulation folder (or its events.parquet).")],
    url: Annotated[str, typer.Option(help="The intake, e.g. http://127.0.0.1:8000/api/v1/events.")],
    token: Annotated[str, typer.Option(help="A source's token (weiwan events token create).")],
    rate: Annotated[float, typer.Option(min=0.001, help="Events a second.")] = 100.0,
    batch: Annotated[int, typer.Option(min=1, max=1000, help="Events a request.")] = 100,
    since: Annotated[
        str | None, typer.Option(help="Only events at or after this time (ISO 8601).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Only events before this time.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Post a simulated operator's events to a running weiwan in time order, at RATE a second."""
    import json
    from dataclasses import asdict
    from datetime import datetime

    from weiwan.demo.replay import replay, window
    from weiwan.sim.event_stream import load_events

    def moment(text: str | None) -> datetime | None:
        if text is None:
            return None
        value = datetime.fromisoformat(text)
        if value.tzinfo is None:
            raise fail(WeiwanError(f"{text}: give the time with its UTC offset (+08:00)"))
        return value

    try:
        events = window(load_events(directory), moment(since), moment(until))
        result = replay(events, url, token, rate=rate, batch=batch)
    except (OSError, WeiwanError) as exc:
        raise fail(exc if isinstance(exc, WeiwanError) else WeiwanError(str(exc))) from exc
    if as_json:
        out.print_json(json.dumps(asdict(result), ensure_ascii=False))
        return
    out.print(
        f"sent {result.sent:,} events in {result.seconds:,.1f} s: accepted {result.accepted:,}, "
        f"duplicates {result.duplicates:,}, rejected {len(result.rejected):,}, "
        f"throttled {result.throttled:,}, retried {result.retried:,}"
    )


#: ``weiwan ingest`` exit code: loaded, but a table's quarantined share is above the limit
EXIT_QUARANTINE_OVER_LIMIT = 3


def ingest(
    directory: Annotated[Path, typer.Argument(help="Directory with the extract files.")],
    snapshot: Annotated[str, typer.Option(help="Delivery date YYYY-MM-DD.")],
    mapping: Annotated[
        Path | None, typer.Option(help="Column-mapping YAML for the operator's own headers.")
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print a JSON summary: counts per table and, per column, each quarantine "
            "reason with its count and a first example (line and raw value).",
        ),
    ] = False,
    max_quarantine_share: Annotated[
        float | None,
        typer.Option(
            min=0,
            max=1,
            help="Largest share of a table's rows that may be quarantined (default "
            "WEIWAN_INGEST_MAX_QUARANTINE_SHARE, 0.5).",
        ),
    ] = None,
) -> None:
    """Validate and load a delivery into the warehouse (bad rows to quarantine).

    Exit codes: 0 loaded; 1 not loaded (the message names the file and column; the warehouse
    is unchanged); 3 loaded, but more than the allowed share of a table's rows was quarantined
    (WEIWAN_INGEST_MAX_QUARANTINE_SHARE, default 0.5, or --max-quarantine-share): look at the
    reasons before running the pipeline.
    """
    from weiwan.analytics.ingest import ingest as run_ingest
    from weiwan.analytics.mapping import load_mapping
    from weiwan.analytics.warehouse import Warehouse

    settings = get_settings()
    day = parse_date(snapshot)
    limit = (
        settings.ingest_max_quarantine_share
        if max_quarantine_share is None
        else (max_quarantine_share)
    )
    try:
        rules = load_mapping(mapping)
        warehouse = Warehouse.from_settings(settings)
        try:
            with progress_bar(not as_json) as update:
                result = run_ingest(
                    directory, snapshot=day, warehouse=warehouse, mapping=rules, progress=update
                )
            if settings.engine == "spark":
                _copy_to_spark(warehouse, day)
        finally:
            warehouse.close()
    except WeiwanError as exc:
        raise fail(exc, as_json) from exc
    over = result.over_share(limit)
    if as_json:
        summary = result.as_json() | {
            "max_quarantine_share": limit,
            "over_max_quarantine_share": over,
        }
        out.print_json(json.dumps(summary, ensure_ascii=False))
    else:
        _print_ingest(result)
    if over:
        console.print(
            f"[red]error:[/red] more than {limit:.0%} of the rows of {', '.join(over)} were "
            "quarantined: check the mapping and the reasons above",
            highlight=False,
        )
        raise typer.Exit(code=EXIT_QUARANTINE_OVER_LIMIT)


def _copy_to_spark(checked: Any, day: date) -> None:
    """The Spark engine's part of ingest: the delivery, checked (and its bad rows quarantined)
    in the DuckDB file, copied into the Spark store's partitions of ``day``."""
    with open_warehouse() as store:
        store.load_delivery(checked, day)


def _print_ingest(result: IngestResult) -> None:
    for name, r in result.tables.items():
        state = "unchanged" if r.unchanged else "loaded"
        out.print(
            f"{name:<16} {r.loaded:>12,} {state}  {r.quarantined:>8,} quarantined  ({r.file})",
            highlight=False,
            markup=False,
        )
        if r.not_delivered:
            out.print(f"  not delivered: {', '.join(r.not_delivered)}", highlight=False)
        for reason in r.reasons:
            out.print(
                f"  {reason.column}: {reason.reason} ×{reason.count:,} "
                f"(e.g. line {reason.line}: {reason.value!r})",
                highlight=False,
                markup=False,
            )


@contract_app.command("docs")
def contract_docs(
    out_file: Annotated[Path, typer.Option("--out", help="Markdown file to write.")] = Path(
        "docs/data-contract.md"
    ),
) -> None:
    """Write the data contract as Markdown (docs/data-contract.md)."""
    from weiwan.analytics.contract_docs import render_markdown

    out_file.write_text(render_markdown(), encoding="utf-8")
    out.print(f"wrote {out_file}")


@pipeline_app.command("run")
def pipeline_run(
    snapshot: Annotated[str, typer.Option(help="Snapshot date YYYY-MM-DD.")],
    no_publish: Annotated[
        bool, typer.Option("--no-publish", help="Leave the operational database alone.")
    ] = False,
) -> None:
    """Run the daily pipeline for a snapshot date (re-running replaces its results): collect
    the operational contacts, run the steps, publish into the operational database and create
    the day's tasks — the operational parts unless --no-publish."""
    from zoneinfo import ZoneInfo

    from weiwan.analytics.churn.registry import ModelRegistry
    from weiwan.pipeline.run import run_pipeline

    settings = get_settings()
    day = parse_date(snapshot)
    warehouse = open_warehouse()
    engine = None if no_publish else ops_engine()
    try:
        with progress_bar() as update:
            result = run_pipeline(
                warehouse,
                day,
                update,
                registry=ModelRegistry(settings.models_dir),
                ops_engine=engine,
                tz=ZoneInfo(settings.timezone),
                config_home=settings.home,
            )
        for name, rows in result.rows.items():
            out.print(f"{name:<18} {rows:>12,} rows  (snapshot {day})")
        for warning in result.warnings:
            out.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
        if engine is not None:
            publish_snapshot(warehouse, engine, day)
    except WeiwanError as exc:
        raise fail(exc) from exc
    finally:
        warehouse.close()
        if engine is not None:
            engine.dispose()


def publish_snapshot(warehouse: Any, engine: Any, day: date) -> None:
    """Publish ``day``, then hand it over (managers, tasks); print what happened."""
    from zoneinfo import ZoneInfo

    from weiwan.ops.handover.service import hand_over
    from weiwan.pipeline.publish import publish

    result = publish(warehouse, engine, day)
    for kind, rows in result.rows.items():
        seconds = result.seconds[kind]
        out.print(f"published {kind:<14} {rows:>12,} rows  {seconds:6.1f} s  (snapshot {day})")
    handed = hand_over(
        engine,
        day,
        visit_due_days=get_settings().arrival_visit_due_days,
        visit_window_days=get_settings().arrival_visit_window_days,
        tz=ZoneInfo(get_settings().timezone),
    )
    out.print("handed over: " + ", ".join(f"{k} {n:,}" for k, n in handed.items()))


def publish_command(
    snapshot: Annotated[str, typer.Option(help="Snapshot date YYYY-MM-DD.")],
) -> None:
    """Publish a snapshot's pipeline results into the operational database (WEIWAN_DATABASE_URL):
    policies, contact rules, the customer view and the decisions (re-publishing replaces), then
    assign managers to new customers and create the day's tasks."""
    day = parse_date(snapshot)
    warehouse = open_warehouse()
    engine = ops_engine()
    try:
        publish_snapshot(warehouse, engine, day)
    except (WeiwanError, LookupError) as exc:
        raise fail(exc) from exc
    finally:
        warehouse.close()
        engine.dispose()
