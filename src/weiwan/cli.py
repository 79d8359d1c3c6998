"""The ``weiwan`` command line (Typer + Rich)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from weiwan.cli_appraisal import appraisal_app
from weiwan.cli_reports import report_app
from weiwan.core.errors import WeiwanError
from weiwan.core.logging import configure_logging
from weiwan.core.settings import get_settings

if TYPE_CHECKING:
    from weiwan.analytics.ingest import IngestResult

app = typer.Typer(
    help="weiwan (维挽): customer retention for telecom operators.", no_args_is_help=True
)
contract_app = typer.Typer(help="The data contract for operator extracts.", no_args_is_help=True)
app.add_typer(contract_app, name="contract")
pipeline_app = typer.Typer(help="The daily pipeline.", no_args_is_help=True)
app.add_typer(pipeline_app, name="pipeline")
targets_app = typer.Typer(help="Target selection over the customer profile.", no_args_is_help=True)
app.add_typer(targets_app, name="targets")
scores_app = typer.Typer(help="Churn scores of a snapshot.", no_args_is_help=True)
app.add_typer(scores_app, name="scores")
app.add_typer(report_app, name="report")
app.add_typer(appraisal_app, name="appraisal")

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


simulate_app = typer.Typer(
    help="Simulate an operator: extracts in OUT/extracts, ground truth in OUT/truth.",
    invoke_without_command=True,
)
app.add_typer(simulate_app, name="simulate")


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
) -> None:
    """Simulate an operator: extracts in OUT/extracts, ground truth in OUT/truth."""
    if ctx.invoked_subcommand is not None:
        return
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


@simulate_app.command("strategy-check")
def strategy_check(
    subscribers: Annotated[int, typer.Option(min=1000, help="Subscribers to simulate.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    months: Annotated[int, typer.Option(min=6, max=60, help="Months of history.")] = 12,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Next best action vs top-risk-cheapest-offer vs random vs oracle, same budget, by truth."""
    import tempfile

    from weiwan.pipeline.strategy_check import plan_strategies, summarise
    from weiwan.sim.strategy_value import TruthPrices

    with tempfile.TemporaryDirectory(prefix="weiwan-strategy-") as tmp:
        root = Path(tmp)
        with progress_bar(not as_json) as update:
            plan = plan_strategies(
                root,
                subscribers,
                seed,
                months=months,
                end_month=_last_complete_month(),
                progress=update,
            )
        # only this evaluation reads the simulator's ground truth, never the decisions
        prices = TruthPrices(root / "sim" / "truth", f"{plan.snapshot:%Y-%m}")
        result = summarise(plan, subscribers, prices.saved, prices.oracle)
    if as_json:
        out.print_json(json.dumps(result.as_dict(), ensure_ascii=False))
        return
    out.print(
        f"expected revenue saved by one month's campaign ({result.snapshot}, budget "
        f"{result.budget:,.0f} yuan, next 12 months' revenue):"
    )
    for name in ("nba", "top_risk", "random", "oracle"):
        value = getattr(result, name)
        out.print(
            f"  {name:<9} {value:>12,.0f}  treated {result.treated[name]:>7,}  "
            f"spent {result.spent[name]:>10,.0f}"
        )


#: ``weiwan ingest`` exit code: loaded, but a table's quarantined share is above the limit
EXIT_QUARANTINE_OVER_LIMIT = 3


@app.command()
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
    day = _parse_date(snapshot)
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
        finally:
            warehouse.close()
    except WeiwanError as exc:
        raise _fail(exc, as_json) from exc
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


@app.command()
def demo(
    subscribers: Annotated[int, typer.Option(min=100)] = 20_000,
    months: Annotated[int, typer.Option(min=2, max=60)] = 12,
    seed: Annotated[int, typer.Option()] = 42,
    serve_app: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the web app afterwards.")
    ] = True,
    port: Annotated[int | None, typer.Option(help="Port (default WEIWAN_PORT, 8000).")] = None,
) -> None:
    """Build a simulated operator, run the daily pipeline for its latest month, publish it with
    one demo login per role, and serve the web app on 127.0.0.1."""
    from rich.table import Table

    from weiwan.pipeline.demo import run_demo
    from weiwan.pipeline.demo_people import DEMO_PASSWORD

    settings = get_settings()
    try:
        run = run_demo(
            settings,
            subscribers=subscribers,
            months=months,
            seed=seed,
            end_month=_last_complete_month(),
            console=out,
            progress=progress_bar,
        )
    except WeiwanError as exc:
        raise _fail(exc) from exc
    logins = Table("username", "role", "name", "branch", title=f"logins (password {DEMO_PASSWORD})")
    for login in run.logins:
        logins.add_row(login.username, login.role.value, login.display_name, login.branch)
    out.print(logins)
    if serve_app:
        address = settings.host
        chosen = settings.port if port is None else port
        out.print(f"weiwan demo on http://{address}:{chosen}  (log in as one of the users above)")
        _run_server(address, chosen, workers=1)


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
    from weiwan.analytics.warehouse import Warehouse
    from weiwan.pipeline.run import run_pipeline

    settings = get_settings()
    day = _parse_date(snapshot)
    warehouse = Warehouse.from_settings(settings)
    engine = None if no_publish else _ops_engine()
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
            _publish_snapshot(warehouse, engine, day)
    except WeiwanError as exc:
        raise _fail(exc) from exc
    finally:
        warehouse.close()
        if engine is not None:
            engine.dispose()


def _ops_engine() -> Any:
    """The operational database the settings name, migrated to the current schema."""
    from weiwan.core.db import engine_for
    from weiwan.ops.migrate import upgrade

    engine = engine_for(get_settings())
    upgrade(engine)
    return engine


def _publish_snapshot(warehouse: Any, engine: Any, day: date) -> None:
    """Publish ``day``, then hand it over (managers, tasks); print what happened."""
    from weiwan.pipeline.handover import hand_over
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
    )
    out.print("handed over: " + ", ".join(f"{k} {n:,}" for k, n in handed.items()))


@app.command("publish")
def publish_command(
    snapshot: Annotated[str, typer.Option(help="Snapshot date YYYY-MM-DD.")],
) -> None:
    """Publish a snapshot's pipeline results into the operational database (WEIWAN_DATABASE_URL):
    policies, contact rules, the customer view and the decisions (re-publishing replaces), then
    assign managers to new customers and create the day's tasks."""
    day = _parse_date(snapshot)
    warehouse = _open_warehouse()
    engine = _ops_engine()
    try:
        _publish_snapshot(warehouse, engine, day)
    except (WeiwanError, LookupError) as exc:
        raise _fail(exc) from exc
    finally:
        warehouse.close()
        engine.dispose()


def _open_warehouse() -> Any:
    from weiwan.analytics.warehouse import Warehouse

    return Warehouse.from_settings(get_settings())


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
    from weiwan.core.yaml_safe import load_yaml

    day = _parse_date(snapshot)
    text = Path(filter_text[1:]).read_text("utf-8") if filter_text.startswith("@") else filter_text
    try:
        raw = load_yaml(text)  # JSON is YAML
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


@scores_app.command("export")
def scores_export(
    snapshot: Annotated[str, typer.Option(help="Snapshot date YYYY-MM-DD.")],
    out_file: Annotated[Path, typer.Option("--out", help="CSV file, or Excel when it ends .xlsx")],
    lang: Annotated[Literal["zh", "en"], typer.Option(help="Language of the reasons.")] = "zh",
) -> None:
    """Write subscriber_id, churn_probability, risk_band, reason_1..3 for a snapshot."""
    from weiwan.analytics.churn.export import export_scores

    warehouse = _open_warehouse()
    try:
        rows = export_scores(warehouse, _parse_date(snapshot), out_file, lang=lang)
    except WeiwanError as exc:
        raise _fail(exc) from exc
    finally:
        warehouse.close()
    out.print(f"wrote {rows:,} scores to {out_file}")


db_app = typer.Typer(help="The operational database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the operational database (WEIWAN_DATABASE_URL) to the newest schema."""
    from weiwan.core.db import engine_for
    from weiwan.ops.migrate import current, upgrade

    engine = engine_for(get_settings())
    try:
        before = current(engine)
        upgrade(engine)
        after = current(engine)
    finally:
        engine.dispose()
    state = "already at" if before == after else f"{before or 'empty'} ->"
    out.print(f"operational database {state} {after}")


users_app = typer.Typer(help="Users of the operational service.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Option(help="Login name.")],
    role: Annotated[str, typer.Option(help="admin, director, centre_head, shift_lead, agent, …")],
    branch: Annotated[str, typer.Option(help="Branch code (created with this name if new).")],
    display_name: Annotated[
        str | None, typer.Option(help="Name shown (default: username).")
    ] = None,
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
) -> None:
    """Create a user, e.g. the first administrator (the password is asked for, never echoed)."""
    from pydantic import ValidationError
    from sqlalchemy import select

    from weiwan.core.db import session_scope
    from weiwan.ops.org.models import Branch
    from weiwan.ops.org.schemas import UserCreate
    from weiwan.ops.org.service import AuditAction, audit, create_user

    engine = _ops_engine()
    try:
        with session_scope(engine) as session:
            found = session.scalar(select(Branch).where(Branch.code == branch))
            if found is None:
                found = Branch(code=branch, name_zh=branch, name_en=branch)
                session.add(found)
                session.flush()
            data = UserCreate(
                username=username,
                display_name=display_name or username,
                password=password,
                role=role,
                branch_id=found.id,
            )
            user = create_user(session, data)
            audit(session, None, AuditAction.CONFIG_CHANGE, "user", str(user.id), {"cli": True})
            out.print(f"created {user.role} {user.username} (id {user.id}) in branch {branch}")
    except ValidationError as exc:
        raise _fail(
            WeiwanError("; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors()))
        ) from exc
    except WeiwanError as exc:
        raise _fail(exc) from exc
    finally:
        engine.dispose()


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Address (default WEIWAN_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default WEIWAN_PORT).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the operational API (and the pages) on the database the settings name."""
    settings = get_settings()
    _ops_engine().dispose()  # migrate before the workers start
    address = host or settings.host
    chosen = settings.port if port is None else port
    out.print(f"weiwan on http://{address}:{chosen}  (API: /api/v1/docs)")
    _run_server(address, chosen, workers=workers)


def _run_server(host: str, port: int, workers: int) -> None:
    """uvicorn on the app factory (the pages and /api/v1) until interrupted."""
    import uvicorn

    uvicorn.run(
        "weiwan.web.app:serve_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )


sms_app = typer.Typer(help="SMS sending.", no_args_is_help=True)
app.add_typer(sms_app, name="sms")


@sms_app.command("dispatch")
def sms_dispatch() -> None:
    """Send the queued SMS whose time has come through the configured gateway (run it every
    minute from cron or a scheduler; safe to run twice at once, each message goes once).
    Exits 1 when some answers were lost: see `weiwan sms reconcile`."""
    from datetime import timedelta

    from weiwan.core.db import session_scope
    from weiwan.ops.sms.gateway import gateway_from_settings
    from weiwan.ops.sms.service import dispatch_due

    settings = get_settings()
    engine = _ops_engine()
    try:
        with session_scope(engine) as session:
            result = dispatch_due(
                session,
                gateway_from_settings(settings),
                grace=timedelta(minutes=settings.sms_sending_grace_minutes),
            )
    except (WeiwanError, ValueError) as exc:
        raise _fail(exc) from exc
    finally:
        engine.dispose()
    out.print(
        f"sms: {result.sent:,} sent, {result.failed:,} failed, {result.unknown:,} unknown"
        + (f", {result.reconciled:,} stuck in sending marked unknown" if result.reconciled else "")
    )
    if result.error:
        console.print(f"[red]stopped:[/red] {result.error}", highlight=False)
    if result.unknown or result.reconciled:
        console.print(
            "check them with the gateway, then `weiwan sms reconcile --sent/--failed/--requeue`"
        )
        raise typer.Exit(code=1)


def _ids(text: str | None) -> list[int]:
    if not text:
        return []
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError as exc:
        raise typer.BadParameter(f"message ids separated by commas, not {text!r}") from exc


@sms_app.command("reconcile")
def sms_reconcile(
    sent: Annotated[str | None, typer.Option(help="Ids (1,2,3) the gateway did send.")] = None,
    failed: Annotated[str | None, typer.Option(help="Ids the gateway did not send.")] = None,
    requeue: Annotated[
        str | None, typer.Option(help="Ids the gateway did not send, to send again.")
    ] = None,
) -> None:
    """Messages whose sending is not settled: those stuck in `sending` past the grace period
    (sms_sending_grace_minutes) become `unknown`; settle `unknown` ones after checking with
    the gateway (by our message id). Lists what is left. Nothing is ever re-sent by itself."""
    from datetime import timedelta

    from weiwan.core.db import session_scope
    from weiwan.ops.sms.service import reconcile_sending, resolve_unknown, unresolved_messages

    settings = get_settings()
    choices = {"sent": _ids(sent), "failed": _ids(failed), "queued": _ids(requeue)}
    engine = _ops_engine()
    try:
        with session_scope(engine) as session:
            grace = timedelta(minutes=settings.sms_sending_grace_minutes)
            stuck = reconcile_sending(session, grace=grace)
            settled = {k: resolve_unknown(session, ids, k) for k, ids in choices.items() if ids}
            left = [(m.id, m.status, m.sending_at, m.error) for m in unresolved_messages(session)]
    except WeiwanError as exc:
        raise _fail(exc) from exc
    finally:
        engine.dispose()
    out.print(f"sms: {len(stuck):,} stuck in sending marked unknown")
    for status, ids in settled.items():
        out.print(f"sms: {len(ids):,} marked {status}: {', '.join(map(str, ids)) or '-'}")
    for message_id, status, since, error in left:
        out.print(f"{message_id}\t{status}\t{since.isoformat() if since else '-'}\t{error or ''}")
    out.print(f"sms: {len(left):,} not settled")


decisions_app = typer.Typer(help="Next best actions of a snapshot.", no_args_is_help=True)
app.add_typer(decisions_app, name="decisions")


@decisions_app.command("export")
def decisions_export(
    snapshot: Annotated[str, typer.Option(help="Snapshot date YYYY-MM-DD.")],
    out_file: Annotated[Path, typer.Option("--out", help="CSV file, or Excel when it ends .xlsx")],
    lang: Annotated[Literal["zh", "en"], typer.Option(help="Language of policy names.")] = "zh",
    actions_only: Annotated[
        bool, typer.Option("--actions-only", help="Only today's actions (no hold-outs etc.).")
    ] = False,
) -> None:
    """Write a snapshot's decisions: trigger, hold-out, offer, channel, value, alternatives."""
    from weiwan.analytics.exports import export_decisions

    warehouse = _open_warehouse()
    try:
        rows = export_decisions(
            warehouse, _parse_date(snapshot), out_file, lang=lang, actions_only=actions_only
        )
    except WeiwanError as exc:
        raise _fail(exc) from exc
    finally:
        warehouse.close()
    out.print(f"wrote {rows:,} decisions to {out_file}")


model_app = typer.Typer(
    help="Churn models: train on the warehouse or a CSV, score, list, promote, roll back.",
    no_args_is_help=True,
)
app.add_typer(model_app, name="model")


def _metric_table(summary: dict[str, Any], title: str | None = None) -> Any:
    from rich.table import Table

    keys = ("roc_auc", "pr_auc", "top_decile_lift", "brier", "emp", "emp_share_contacted")
    default_title = f"{summary.get('folds')}-fold cross-validation"
    table = Table(title=f"{title or default_title}, {summary['rows']:,} rows")
    table.add_column("model")
    for key in keys:
        table.add_column(key, justify="right")
    rows = {"default (LightGBM)": summary, **summary["baselines"]}
    for name, metrics in rows.items():
        cells = [metrics.get(k) for k in keys]
        table.add_row(name, *("-" if v is None else f"{v:.3f}" for v in cells))
    return table


@model_app.command("train")
def model_train(
    csv_file: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            help="Bring your own data: one row per customer (UTF-8 or GBK). "
            "Without it, train on the warehouse.",
        ),
    ] = None,
    label: Annotated[
        str | None, typer.Option(help="With --csv: the churn column (yes/no, 1/0, true/false).")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id", help="With --csv: customer id column (never a feature).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    model_out: Annotated[Path, typer.Option(help="With --csv: where to save the model.")] = Path(
        "var/models/byo-latest.joblib"
    ),
    seed: Annotated[int, typer.Option(help="Random seed of folds and model.")] = 0,
    horizon: Annotated[
        int, typer.Option(help="Warehouse: churn within this many months after a snapshot.")
    ] = 1,
    involuntary: Annotated[
        bool,
        typer.Option(
            "--involuntary/--voluntary-only", help="Warehouse: count non-payment churn or not."
        ),
    ] = True,
    promote: Annotated[
        bool, typer.Option("--promote", help="Warehouse: score with the new model from now on.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="With --promote: promote even when the hold-out AUC is below "
            "WEIWAN_MIN_PROMOTE_AUC (default 0.55).",
        ),
    ] = False,
) -> None:
    """Train and evaluate the churn model against naive Bayes and logistic regression.

    Without --csv: on the warehouse (time-based hold-out), registered with its evaluation
    report. With --csv: on any flat table (5-fold CV x 3), then fitted and saved.
    """
    if csv_file is None:
        _train_on_warehouse(horizon, involuntary, promote, seed, as_json, force=force)
        return
    if label is None:
        raise _fail(WeiwanError("--label is required with --csv"), as_json)
    from weiwan.analytics.churn.tabular import train_table

    try:
        with progress_bar(not as_json) as update:
            summary = train_table(
                csv_file,
                label=label,
                id_column=id_column,
                model_out=model_out,
                seed=seed,
                progress=update,
            )
    except WeiwanError as exc:
        raise _fail(exc, as_json) from exc
    if as_json:
        out.print_json(json.dumps(summary, ensure_ascii=False))
        return
    out.print(_metric_table(summary))
    out.print(f"features: {', '.join(summary['features'])}")
    for name, why in summary["dropped"].items():
        out.print(f"dropped {name}: {why}")
    out.print(f"model saved to {model_out}")


def _train_on_warehouse(
    horizon: int, involuntary: bool, promote: bool, seed: int, as_json: bool, *, force: bool
) -> None:
    from weiwan.analytics.churn.evaluation import train_and_register
    from weiwan.analytics.churn.registry import ModelRegistry
    from weiwan.analytics.churn.training import TrainingConfig

    config = TrainingConfig(horizon_months=horizon, include_involuntary=involuntary, seed=seed)
    registry = ModelRegistry(get_settings().models_dir)
    try:
        with _open_warehouse() as warehouse:
            version, result, files = train_and_register(
                warehouse, registry, config, promote=promote, force=force
            )
    except WeiwanError as exc:
        raise _fail(exc, as_json) from exc
    summary = {
        "version": version,
        "promoted": registry.promoted() == version,
        "holdout_snapshot": result.meta.holdout_snapshot,
        "training_snapshots": result.meta.training_snapshots,
        "rows": result.meta.training_rows,
        **result.meta.metrics["default"],
        "baselines": {k: v for k, v in result.meta.metrics.items() if k != "default"},
        "survival": result.meta.extra.get("survival"),
        "report": {k: str(v) for k, v in files.items()},
    }
    if as_json:
        out.print_json(json.dumps(_finite(summary), ensure_ascii=False))
        return
    out.print(_metric_table(summary, f"hold-out {summary['holdout_snapshot']}"))
    survival = summary["survival"] or {}
    if survival.get("concordance_index") is not None:
        out.print(f"tenure model concordance index: {survival['concordance_index']:.3f}")
    out.print(f"registered {version}" + (" (promoted)" if summary["promoted"] else ""))
    out.print(f"report: {files['html_path']}")
    if not summary["promoted"]:
        out.print(f"score with it: weiwan model promote {version}")


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None, so the JSON printed is valid JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


@model_app.command("score")
def model_score(
    csv_file: Annotated[Path, typer.Option("--csv", help="Customers to score.")],
    out_file: Annotated[Path, typer.Option("--out", help="CSV file, or Excel when it ends .xlsx")],
    model: Annotated[Path, typer.Option(help="A model saved by `weiwan model train`.")] = Path(
        "var/models/byo-latest.joblib"
    ),
) -> None:
    """Write id and churn_probability for every row of a table."""
    from weiwan.analytics.churn.tabular import score_table

    try:
        result = score_table(model, csv_file, out_file)
    except WeiwanError as exc:
        raise _fail(exc) from exc
    if result["missing_columns"]:
        missing = result["missing_columns"]
        console.print(f"[yellow]columns missing, scored as blank:[/yellow] {missing}")
    out.print(f"wrote {result['rows']:,} scores to {out_file}")


@model_app.command("list")
def model_list() -> None:
    """The warehouse churn models in the registry, with their hold-out figures."""
    from weiwan.analytics.churn.registry import ModelRegistry

    registry = ModelRegistry(get_settings().models_dir)
    promoted = registry.promoted()
    for version in registry.versions():
        meta = registry.meta(version)
        auc = meta.metrics.get("default", {}).get("roc_auc", float("nan"))
        mark = "*" if version == promoted else " "
        out.print(
            f"{mark} {version}  {meta.created_at}  hold-out {meta.holdout_snapshot}  "
            f"AUC {auc:.3f}  rows {meta.training_rows:,}"
        )


@model_app.command("promote")
def model_promote(
    version: Annotated[str, typer.Argument(help="e.g. v0002")],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Promote even when its hold-out AUC is below WEIWAN_MIN_PROMOTE_AUC."
        ),
    ] = False,
) -> None:
    """Make a registered model the one the pipeline scores with (a model whose hold-out AUC is
    below WEIWAN_MIN_PROMOTE_AUC only with --force)."""
    from weiwan.analytics.churn.registry import ModelRegistry

    try:
        ModelRegistry(get_settings().models_dir).promote(version, force=force)
    except WeiwanError as exc:
        raise _fail(exc) from exc
    out.print(f"promoted {version}")


@model_app.command("rollback")
def model_rollback() -> None:
    """Go back to the model promoted before the current one."""
    from weiwan.analytics.churn.registry import ModelRegistry

    try:
        version = ModelRegistry(get_settings().models_dir).rollback()
    except WeiwanError as exc:
        raise _fail(exc) from exc
    out.print(f"rolled back to {version}")
