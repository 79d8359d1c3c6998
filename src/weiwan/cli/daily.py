"""``weiwan daily``: the day as one command, for cron, systemd or a scheduler.

Picks the newest complete delivery in the landing folder (``<landing>/<YYYY-MM-DD>/``, complete
once its marker ``_READY`` or its ``manifest.json`` is there) that has not been run to the end,
and runs its steps in order — ingest, pipeline, publish, hand-over, close finished periods —
recording each in the run history (``ops.runs``: start, duration, rows, warnings, the error
with its step). A run of a delivery whose last run failed resumes at the step that failed. A
file lock keeps two runs from overlapping on the machine.

Exit codes: 0 done; 1 failed (an essential step: ingest, pipeline, publish); 2 nothing to do;
3 partly failed (the day is published, but the hand-over or closing the periods failed: the
next run does those); 4 another run holds the lock.
"""

from __future__ import annotations

import fcntl
import json
import socket
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from weiwan.cli.base import console, fail, open_warehouse, ops_engine, out
from weiwan.core.db import session_scope
from weiwan.core.errors import WeiwanError
from weiwan.core.settings import Settings, get_settings
from weiwan.ops.base import utcnow
from weiwan.ops.runs import service as history

EXIT_FAILED, EXIT_NOTHING, EXIT_PARTLY, EXIT_BUSY = 1, 2, 3, 4
MARKERS = ("_READY", "manifest.json")
#: the steps in order; a failure of one of the first three stops the run
STEPS = ("ingest", "pipeline", "publish", "hand_over", "close_periods")
ESSENTIAL = frozenset({"ingest", "pipeline", "publish"})


@dataclass
class Day:
    """What the steps share."""

    snapshot: date
    folder: Path
    settings: Settings
    engine: Any
    mapping: Path | None
    stack: ExitStack
    warnings: list[str] = field(default_factory=list)
    _warehouse: Any = None

    def warehouse(self) -> Any:
        """The warehouse, opened once for the run."""
        if self._warehouse is None:
            self._warehouse = open_warehouse()
            self.stack.callback(self._warehouse.close)
        return self._warehouse


def complete_deliveries(landing: Path) -> dict[date, Path]:
    """The landing folder's complete deliveries by snapshot date."""
    found: dict[date, Path] = {}
    if not landing.is_dir():
        return found
    for folder in landing.iterdir():
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            continue
        if folder.is_dir() and any((folder / m).exists() for m in MARKERS):
            found[day] = folder
    return found


def _ingest(day: Day) -> tuple[int, dict[str, Any]]:
    from weiwan.analytics.ingest import ingest as run_ingest
    from weiwan.analytics.mapping import load_mapping
    from weiwan.analytics.warehouse import Warehouse

    settings = day.settings
    again = _erasures_again(day)
    warehouse = Warehouse.from_settings(settings) if settings.engine == "spark" else day.warehouse()
    try:
        result = run_ingest(
            day.folder,
            snapshot=day.snapshot,
            warehouse=warehouse,
            mapping=load_mapping(day.mapping),
        )
        if settings.engine == "spark":
            from weiwan.cli.data import _copy_to_spark

            _copy_to_spark(warehouse, day.snapshot)
    finally:
        if settings.engine == "spark":
            warehouse.close()
    over = result.over_share(settings.ingest_max_quarantine_share)
    if over:
        raise WeiwanError(
            f"more than {settings.ingest_max_quarantine_share:.0%} of the rows of "
            f"{', '.join(over)} were quarantined: check the delivery and the mapping"
        )
    rows = {name: r.loaded for name, r in result.tables.items()}
    return sum(rows.values()), {"loaded": rows, "erasures_reapplied": again}


def _erasures_again(day: Day) -> int:
    """Erase again, before the day's delivery, every subscriber the erasure ledger names whom
    the operational database does not know as erased — it was put back from a copy made
    before their erasure by other means than ``weiwan restore`` (a filesystem snapshot, a
    database replica): the pipeline's first step then erases them in the warehouse too, before
    any scoring. Nothing to do (the usual day) costs a read of the ledger."""
    from weiwan.ops.privacy.ledger import read_ledger
    from weiwan.ops.privacy.service import BEFORE_DAILY_RUN, reapply_erasures

    path = day.settings.erasure_ledger_file
    if not path.exists():
        return 0
    ledger = read_ledger(path)
    with session_scope(day.engine) as session:
        again = reapply_erasures(session, ledger, BEFORE_DAILY_RUN)
    if again:
        day.warnings.append(
            f"{len(again)} erasure(s) of the erasure ledger were missing from the operational "
            "database (restored from a copy made before them?): erased again"
        )
    return len(again)


def _pipeline(day: Day) -> tuple[int, dict[str, Any]]:
    from weiwan.analytics.churn.registry import ModelRegistry
    from weiwan.pipeline.run import run_pipeline

    settings = day.settings
    result = run_pipeline(
        day.warehouse(),
        day.snapshot,
        registry=ModelRegistry(settings.models_dir),
        ops_engine=day.engine,
        tz=ZoneInfo(settings.timezone),
        config_home=settings.home,
    )
    day.warnings += result.warnings
    return sum(result.rows.values()), {"rows": result.rows}


def _publish(day: Day) -> tuple[int, dict[str, Any]]:
    from weiwan.pipeline.publish import publish

    result = publish(day.warehouse(), day.engine, day.snapshot)
    return sum(result.rows.values()), {"rows": result.rows}


def _hand_over(day: Day) -> tuple[int, dict[str, Any]]:
    from weiwan.ops.handover.service import hand_over

    settings = day.settings
    counts = hand_over(
        day.engine,
        day.snapshot,
        visit_due_days=settings.arrival_visit_due_days,
        visit_window_days=settings.arrival_visit_window_days,
        tz=ZoneInfo(settings.timezone),
    )
    return counts.get("tasks", 0), {"counts": counts}


def _close_periods(day: Day) -> tuple[int, dict[str, Any]]:
    """Store last month's scorecards once it has ended (not again when stored)."""
    from weiwan.ops.appraisal.scorecards import close_month, is_closed
    from weiwan.ops.tasks.due import local_today

    tz = ZoneInfo(day.settings.timezone)
    last_month = (local_today(tz).replace(day=1) - timedelta(days=1)).replace(day=1)
    with session_scope(day.engine) as session:
        if is_closed(session, last_month):
            return 0, {"month": f"{last_month:%Y-%m}", "already": True}
        stored = close_month(session, last_month, tz)
    return stored, {"month": f"{last_month:%Y-%m}"}


RUNNERS: dict[str, Callable[[Day], tuple[int, dict[str, Any]]]] = {
    "ingest": _ingest,
    "pipeline": _pipeline,
    "publish": _publish,
    "hand_over": _hand_over,
    "close_periods": _close_periods,
}


def daily(
    landing: Annotated[
        Path | None,
        typer.Option(
            envvar="WEIWAN_LANDING_DIR",
            help="The landing folder of deliveries (default $WEIWAN_HOME/landing).",
        ),
    ] = None,
    snapshot: Annotated[
        str | None, typer.Option(help="Run this delivery (YYYY-MM-DD) instead of the newest.")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="Column-mapping YAML for the operator's own headers.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """Run the day: the newest complete delivery not yet run to its end — ingest, pipeline,
    publish, hand-over, close finished periods — with its history (`GET /api/v1/runs`). Exit
    codes: 0 done, 1 failed, 2 nothing to do, 3 partly failed, 4 another run is going."""
    settings = get_settings()
    folder = landing or settings.home / "landing"
    lock_file = settings.home / "var" / "daily.lock"
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "w") as lock, ExitStack() as stack:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            console.print("[yellow]another daily run holds the lock[/yellow]", highlight=False)
            raise typer.Exit(EXIT_BUSY) from None
        engine = ops_engine()
        stack.callback(engine.dispose)
        chosen = _choose(engine, folder, snapshot)
        if chosen is None:
            out.print(f"nothing to do: no complete delivery in {folder} waits to be run")
            raise typer.Exit(EXIT_NOTHING)
        day_, delivery = chosen
        day = Day(day_, delivery, settings, engine, mapping, stack)
        code, summary = _run(day)
    if as_json:
        out.print_json(json.dumps(summary, ensure_ascii=False, default=str))
    else:
        for step in summary["steps"]:
            out.print(
                f"{step['step']:<14} {step['status']:<8} {step['seconds']:8.1f} s "
                f"{step['rows'] if step['rows'] is not None else '':>12}",
                highlight=False,
            )
        out.print(f"daily run {summary['run']} of {day_}: {summary['status']}")
    if code:
        raise typer.Exit(code)


def _choose(engine: Any, landing: Path, snapshot: str | None) -> tuple[date, Path] | None:
    """The delivery to run: the one named, else the newest complete one whose last run did not
    succeed (None: nothing to do)."""
    deliveries = complete_deliveries(landing)
    if snapshot is not None:
        day = date.fromisoformat(snapshot)
        if day not in deliveries:
            raise fail(WeiwanError(f"no complete delivery {day} in {landing} (marker missing?)"))
        return day, deliveries[day]
    if not deliveries:
        return None
    newest = max(deliveries)
    with session_scope(engine) as session:
        last = history.last_run(session, newest)
        done = last is not None and last.status == "succeeded"
    return None if done else (newest, deliveries[newest])


def _alert(day: Day, run_id: int) -> None:
    """Tell the administrators about a run that did not succeed (settings ``alert_*``)."""
    from weiwan.ops.runs.alerts import alert_failed_run

    try:
        with session_scope(day.engine) as session:
            done = alert_failed_run(session, day.settings, run_id)
    except Exception as exc:  # e.g. the database went away: the run's own exit code stands
        console.print(f"[yellow]alert not sent: {type(exc).__name__}: {exc}[/yellow]")
        return
    if done is not None and done.errors:
        console.print(f"[yellow]alert not delivered: {'; '.join(done.errors)}[/yellow]")


def daily_watch() -> None:
    """Alert the administrators (settings ``alert_emails``, ``alert_phones``) once a day when
    the day's publication is not there by ``publication_due``; for cron every 15 minutes."""
    from sqlalchemy.exc import SQLAlchemyError

    from weiwan.ops.runs.alerts import alert_if_late, alert_unreachable, configured

    settings = get_settings()
    if not configured(settings):
        raise fail(WeiwanError("no alert_emails or alert_phones are set: nobody to tell"))
    engine = None
    try:
        engine = ops_engine()
        with session_scope(engine) as session:
            done = alert_if_late(session, settings, utcnow())
    except SQLAlchemyError as exc:
        done = alert_unreachable(settings, utcnow(), f"{type(exc).__name__}: {exc}"[:500])
    finally:
        if engine is not None:
            engine.dispose()
    if done is None:
        out.print("nothing to tell: the day is published, not yet due, or told already")
        return
    out.print(f"told: {', '.join(done.sent) or '-'}", highlight=False)
    if done.errors:
        raise fail(WeiwanError(f"alert not delivered: {'; '.join(done.errors)}"))


def _run(day: Day) -> tuple[int, dict[str, Any]]:
    """The steps of ``day``, resuming after those a failed run of it finished."""
    with session_scope(day.engine) as session:
        last = history.last_run(session, day.snapshot)
        before = (
            history.steps_done(session, last.id)
            if last is not None and last.status in ("failed", "partly_failed")
            else set()
        )
        run_id = history.open_run(session, day.snapshot, str(day.folder), socket.gethostname())
    steps: list[dict[str, Any]] = []
    failed: list[tuple[str, str]] = []
    code = 0
    for step in STEPS:
        started, clock = utcnow(), time.perf_counter()
        rows: int | None = None
        detail: dict[str, Any]
        if step in before:
            status, detail = "skipped", {"done_in_an_earlier_run": True}
        else:
            try:
                rows, detail = RUNNERS[step](day)
                status = "done"
            except Exception as exc:  # recorded with its step; the run decides what follows
                status, detail = "failed", {"error": f"{type(exc).__name__}: {exc}"[:2000]}
                failed.append((step, str(detail["error"])))
        seconds = round(time.perf_counter() - clock, 3) if status != "skipped" else 0.0
        with session_scope(day.engine) as session:  # each step kept as it ends
            history.record_step(session, run_id, step, status, started, seconds, rows, detail)
        steps.append({"step": step, "status": status, "seconds": seconds, "rows": rows})
        if status == "failed" and step in ESSENTIAL:
            code = EXIT_FAILED
            break
    status = "succeeded"
    if code == EXIT_FAILED:
        status = "failed"
    elif failed:
        status, code = "partly_failed", EXIT_PARTLY
    with session_scope(day.engine) as session:
        history.close_run(
            session,
            run_id,
            status,
            day.warnings,
            failed_step=failed[0][0] if failed else None,
            error=failed[0][1] if failed else None,
        )
    if status != "succeeded":
        _alert(day, run_id)
    summary = {
        "run": run_id,
        "snapshot": day.snapshot,
        "status": status,
        "steps": steps,
        "warnings": day.warnings,
        "finished_at": datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    return code, summary
