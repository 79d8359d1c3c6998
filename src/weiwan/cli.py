"""The ``weiwan`` command line (Typer + Rich)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from weiwan.core.errors import WeiwanError
from weiwan.core.logging import configure_logging
from weiwan.core.settings import get_settings

app = typer.Typer(
    help="weiwan (维挽): customer retention for telecom operators.", no_args_is_help=True
)
contract_app = typer.Typer(help="The data contract for operator extracts.", no_args_is_help=True)
app.add_typer(contract_app, name="contract")
pipeline_app = typer.Typer(help="The daily pipeline.", no_args_is_help=True)
app.add_typer(pipeline_app, name="pipeline")
targets_app = typer.Typer(help="Target selection over the customer profile.", no_args_is_help=True)
app.add_typer(targets_app, name="targets")

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


def _fail(exc: Exception, as_json: bool = False) -> typer.Exit:
    if as_json:
        out.print_json(json.dumps({"error": str(exc)}, ensure_ascii=False))
    console.print(f"[red]error:[/red] {exc}", highlight=False, markup=True)
    return typer.Exit(code=1)


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _last_complete_month() -> str:
    today = date.today()
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


@app.command()
def simulate(
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
) -> None:
    """Simulate an operator: extracts in OUT/extracts, ground truth in OUT/truth."""
    from weiwan.sim import simulate as run_simulation

    with progress_bar() as update:
        summary = run_simulation(
            subscribers=subscribers,
            months=months,
            seed=seed,
            out=out_dir,
            end_month=end_month or _last_complete_month(),
            fmt=fmt,
            progress=update,
        )
    out.print(
        f"simulated {summary.subscribers:,} subscribers x {summary.months} months -> {out_dir}"
    )
    for name, rows in summary.rows.items():
        out.print(f"  {name:<16} {rows:>12,} rows")


@app.command()
def ingest(
    directory: Annotated[Path, typer.Argument(help="Directory with the extract files.")],
    snapshot: Annotated[str, typer.Option(help="Delivery date YYYY-MM-DD.")],
    mapping: Annotated[
        Path | None, typer.Option(help="Column-mapping YAML for the operator's own headers.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Validate and load a delivery into the warehouse (bad rows to quarantine)."""
    from weiwan.analytics.ingest import ingest as run_ingest
    from weiwan.analytics.mapping import load_mapping
    from weiwan.analytics.warehouse import Warehouse

    settings = get_settings()
    day = _parse_date(snapshot)
    try:
        rules = load_mapping(mapping)
        warehouse = Warehouse(
            settings.warehouse_file, threads=settings.threads, memory_limit=settings.memory_limit
        )
        try:
            with progress_bar(not as_json) as update:
                result = run_ingest(
                    directory, snapshot=day, warehouse=warehouse, mapping=rules, progress=update
                )
        finally:
            warehouse.close()
    except WeiwanError as exc:
        raise _fail(exc, as_json) from exc
    if as_json:
        out.print_json(json.dumps(result.as_json(), ensure_ascii=False))
        return
    for name, r in result.tables.items():
        state = "unchanged" if r.unchanged else "loaded"
        out.print(
            f"{name:<16} {r.loaded:>12,} {state}  {r.quarantined:>8,} quarantined  ({r.file})"
        )


@app.command()
def demo(
    subscribers: Annotated[int, typer.Option(min=100)] = 20_000,
    months: Annotated[int, typer.Option(min=2, max=60)] = 12,
    seed: Annotated[int, typer.Option()] = 42,
) -> None:
    """Build a simulated operator, ingest it and print what the warehouse now holds."""
    from weiwan.pipeline.demo import run_demo

    try:
        run_demo(
            get_settings(),
            subscribers=subscribers,
            months=months,
            seed=seed,
            end_month=_last_complete_month(),
            console=out,
            progress=progress_bar,
        )
    except WeiwanError as exc:
        raise _fail(exc) from exc


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
) -> None:
    """Run the daily pipeline for a snapshot date (re-running replaces its results)."""
    from weiwan.analytics.warehouse import Warehouse
    from weiwan.pipeline.run import run_pipeline

    settings = get_settings()
    day = _parse_date(snapshot)
    warehouse = Warehouse(
        settings.warehouse_file, threads=settings.threads, memory_limit=settings.memory_limit
    )
    try:
        with progress_bar() as update:
            result = run_pipeline(warehouse, day, update)
    except WeiwanError as exc:
        raise _fail(exc) from exc
    finally:
        warehouse.close()
    for name, rows in result.rows.items():
        out.print(f"{name:<16} {rows:>12,} rows  (snapshot {day})")


def _open_warehouse() -> Any:
    from weiwan.analytics.warehouse import Warehouse

    settings = get_settings()
    return Warehouse(
        settings.warehouse_file, threads=settings.threads, memory_limit=settings.memory_limit
    )


@targets_app.command("preview")
def targets_preview(
    snapshot: Annotated[str, typer.Option(help="Snapshot date YYYY-MM-DD.")],
    filter_text: Annotated[
        str, typer.Option("--filter", help="Filter JSON, or @FILE holding it (JSON or YAML).")
    ],
    sample: Annotated[int, typer.Option(min=0, max=1000)] = 10,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Count the subscribers a filter selects and show a sample (phone numbers masked)."""
    import yaml

    from weiwan.analytics.profile import load_profile
    from weiwan.analytics.targets import preview

    day = _parse_date(snapshot)
    text = Path(filter_text[1:]).read_text("utf-8") if filter_text.startswith("@") else filter_text
    try:
        raw = yaml.safe_load(text)  # JSON is YAML
    except yaml.YAMLError as exc:
        raise _fail(WeiwanError(f"filter is not valid JSON/YAML: {exc}"), as_json) from exc
    warehouse = _open_warehouse()
    try:
        count, rows = preview(load_profile(warehouse, day), raw, sample)
    except (WeiwanError, LookupError) as exc:
        raise _fail(exc, as_json) from exc
    finally:
        warehouse.close()
    columns = ["subscriber_id", "value_tier", "lifecycle_stage", "arpu_1m", "tenure_months"]
    shown = [{c: r.get(c) for c in columns if c in r} for r in rows]
    if as_json:
        out.print_json(
            json.dumps({"count": count, "sample": shown}, ensure_ascii=False, default=str)
        )
        return
    out.print(f"{count:,} subscribers match on {day}")
    for row in shown:
        out.print("  " + "  ".join(f"{k}={v}" for k, v in row.items()))


@targets_app.command("groups")
def targets_groups(
    snapshot: Annotated[str, typer.Option(help="Snapshot date YYYY-MM-DD.")],
) -> None:
    """Members per saved target group (固定场景) as the pipeline stored them."""
    from weiwan.analytics.targets import load_target_groups

    day = _parse_date(snapshot)
    warehouse = _open_warehouse()
    try:
        counts = dict(
            warehouse.execute(
                "SELECT group_id, count(*) FROM target_groups WHERE snapshot_date = ? GROUP BY 1",
                [day],
            )
            if warehouse.has_table("target_groups")
            else []
        )
    finally:
        warehouse.close()
    for group in load_target_groups():
        out.print(
            f"{group.id:<30} {counts.get(group.id, 0):>10,}  {group.name_zh} / {group.name_en}"
        )
