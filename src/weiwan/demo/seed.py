"""The demo: simulate an operator, ingest it, run the daily pipeline, publish it into the
operational database with one login per role (the CLI then serves the web app)."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table as RichTable

from weiwan.analytics.churn.registry import ModelRegistry
from weiwan.analytics.churn_stats import monthly_churn
from weiwan.analytics.ingest import IngestResult, ingest
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.db import engine_for
from weiwan.core.months import month_end
from weiwan.core.settings import Settings
from weiwan.demo.activity import work_the_day
from weiwan.demo.management import manage_the_day
from weiwan.demo.people import DemoLogin, ensure_demo_people
from weiwan.ops.handover.service import hand_over
from weiwan.ops.migrate import upgrade
from weiwan.pipeline.publish import publish
from weiwan.pipeline.run import run_pipeline
from weiwan.sim import simulate
from weiwan.sim.event_stream import write_event_stream


@dataclass(frozen=True, slots=True)
class DemoRun:
    """What the demo built: the ingest, the snapshot published and the logins created."""

    ingest: IngestResult
    snapshot: date
    logins: list[DemoLogin]
    #: the simulation folder (its real-time events: ``events/events.parquet``)
    sim_dir: Path | None = None


ProgressFactory = Callable[[], AbstractContextManager[Callable[[str, int, int], None]]]


def _simulated_operator(
    home: Path,
    *,
    subscribers: int,
    months: int,
    seed: int,
    end_month: str,
    progress: ProgressFactory,
) -> Path:
    out = home / "demo" / f"sim-{subscribers}-{months}-{seed}-{end_month}"
    done = out / "done.json"
    if not done.exists():
        with progress() as update:
            simulate(
                subscribers=subscribers,
                months=months,
                seed=seed,
                out=out,
                end_month=end_month,
                progress=update,
                events=True,
            )
        done.write_text(json.dumps({"subscribers": subscribers, "months": months, "seed": seed}))
    elif not (out / "events" / "events.parquet").exists():  # simulated before events existed
        write_event_stream(out, seed)
    return out


def _print_ingest(console: Console, result: IngestResult) -> None:
    table = RichTable(title=f"ingest, snapshot {result.snapshot}")
    for name in ("table", "file", "loaded", "quarantined", "state"):
        table.add_column(name, justify="right" if name in ("loaded", "quarantined") else "left")
    for r in result.tables.values():
        state = "unchanged" if r.unchanged else "loaded"
        table.add_row(r.table, r.file, f"{r.loaded:,}", f"{r.quarantined:,}", state)
    console.print(table)


def _print_churn(console: Console, warehouse: Warehouse, snapshot: date, months: int) -> None:
    starts: list[date] = []
    year, mon = snapshot.year, snapshot.month
    for _ in range(months):
        starts.insert(0, date(year, mon, 1))
        year, mon = (year, mon - 1) if mon > 1 else (year - 1, 12)
    stats = monthly_churn(warehouse, starts, snapshot).execute()
    table = RichTable(title="monthly churn (churned in month ÷ subscribers at month start)")
    for name in ("month", "base", "churned", "rate"):
        table.add_column(name, justify="right")
    for row in stats.itertuples():
        table.add_row(
            f"{row.month_start:%Y-%m}", f"{row.base:,}", f"{row.churned:,}", f"{row.churn_rate:.2%}"
        )
    console.print(table)


def _print_profile(
    console: Console, warehouse: Warehouse, snapshot: date, rows: dict[str, int]
) -> None:
    console.print("pipeline " + ", ".join(f"{name} {n:,}" for name, n in rows.items()))
    table = RichTable(title=f"customer profile on {snapshot}")
    for name in ("value tier", "subscribers", "CLV quadrant", "subscribers "):
        table.add_column(name, justify="right" if name.startswith("sub") else "left")
    tiers = warehouse.execute(
        "SELECT value_tier, count(*) FROM segments WHERE snapshot_date = ? GROUP BY 1 "
        "ORDER BY list_position(['diamond','gold','silver','ordinary','mass'], value_tier)",
        [snapshot],
    )
    quadrants = warehouse.execute(
        "SELECT clv_quadrant, count(*) FROM clv WHERE snapshot_date = ? GROUP BY 1 ORDER BY 2 DESC",
        [snapshot],
    )
    for i in range(max(len(tiers), len(quadrants))):
        tier = tiers[i] if i < len(tiers) else ("", None)
        quad = quadrants[i] if i < len(quadrants) else ("", None)
        table.add_row(
            str(tier[0]),
            f"{tier[1]:,}" if tier[1] is not None else "",
            str(quad[0] or ("unknown" if quad[1] is not None else "")),
            f"{quad[1]:,}" if quad[1] is not None else "",
        )
    console.print(table)
    groups = RichTable(title="saved target groups (固定场景)")
    groups.add_column("group")
    groups.add_column("members", justify="right")
    for group_id, members in warehouse.execute(
        "SELECT group_id, count(*) FROM target_groups WHERE snapshot_date = ? GROUP BY 1 "
        "ORDER BY 2 DESC",
        [snapshot],
    ):
        groups.add_row(group_id, f"{members:,}")
    console.print(groups)
    if warehouse.has_table("scores"):
        risky = RichTable(title="highest churn risk (流失风险最高)")
        for name in ("subscriber", "p(churn)", "band", "reasons"):
            risky.add_column(name)
        for sub, prob, band, *reasons in warehouse.execute(
            "SELECT subscriber_id, churn_probability, risk_band, reason_1, reason_2, reason_3 "
            "FROM scores WHERE snapshot_date = ? ORDER BY churn_probability DESC, subscriber_id "
            "LIMIT 5",
            [snapshot],
        ):
            risky.add_row(sub, f"{prob:.1%}", band, "；".join(r for r in reasons if r))
        console.print(risky)
    if warehouse.has_table("decisions"):
        actions = RichTable(title="next best actions today (一户一荐)")
        for name in ("trigger", "outcome", "subscribers", "cost today", "expected value"):
            actions.add_column(name, justify="left" if name in ("trigger", "outcome") else "right")
        for kind, outcome, count, cost, value in warehouse.execute(
            "SELECT trigger_kind, outcome, count(*), sum(cost) FILTER (WHERE action), "
            "sum(expected_value) FILTER (WHERE action) "
            "FROM decisions WHERE snapshot_date = ? GROUP BY ALL ORDER BY 1, 3 DESC",
            [snapshot],
        ):
            actions.add_row(
                kind,
                outcome,
                f"{count:,}",
                "" if cost is None else f"{cost:,.0f}",
                "" if value is None else f"{value:,.0f}",
            )
        console.print(actions)


def _publish(
    console: Console, warehouse: Warehouse, settings: Settings, snapshot: date
) -> list[DemoLogin]:
    """Publish the snapshot into the operational database the settings name (migrated first),
    create the demo people, then hand the day over to them."""
    engine = engine_for(settings)
    try:
        upgrade(engine)
        published = publish(warehouse, engine, snapshot, home=settings.home)
        logins = ensure_demo_people(engine)
        handed = hand_over(
            engine,
            snapshot,
            visit_due_days=settings.arrival_visit_due_days,
            visit_window_days=settings.arrival_visit_window_days,
            tz=ZoneInfo(settings.timezone),
        )
        worked = work_the_day(engine, ZoneInfo(settings.timezone))
        managed = manage_the_day(engine, ZoneInfo(settings.timezone))
    finally:
        engine.dispose()
    console.print(
        "published to the operational database: "
        + ", ".join(f"{kind} {n:,}" for kind, n in published.rows.items())
    )
    console.print("handed over: " + ", ".join(f"{kind} {n:,}" for kind, n in handed.items()))
    console.print(
        "the demo agents' day: " + ", ".join(f"{kind} {n:,}" for kind, n in worked.items())
    )
    console.print(
        "the demo managers' day: " + ", ".join(f"{kind} {n:,}" for kind, n in managed.items())
    )
    return logins


def run_demo(
    settings: Settings,
    *,
    subscribers: int,
    months: int,
    seed: int,
    end_month: str,
    console: Console,
    progress: ProgressFactory,
) -> DemoRun:
    """Simulate (once per parameters), ingest the delivery, run the pipeline, publish it into
    the operational database with the demo people and print a summary."""
    sim_dir = _simulated_operator(
        settings.home,
        subscribers=subscribers,
        months=months,
        seed=seed,
        end_month=end_month,
        progress=progress,
    )
    snapshot = month_end(date.fromisoformat(f"{end_month}-01"))
    warehouse = Warehouse.from_settings(settings)
    try:
        with progress() as update:
            result = ingest(sim_dir, snapshot=snapshot, warehouse=warehouse, progress=update)
        _print_ingest(console, result)
        _print_churn(console, warehouse, snapshot, months)
        with progress() as update:
            run = run_pipeline(
                warehouse,
                snapshot,
                update,
                registry=ModelRegistry(settings.models_dir),
                config_home=settings.home,
            )
        _print_profile(console, warehouse, snapshot, run.rows)
        logins = _publish(console, warehouse, settings, snapshot)
    finally:
        warehouse.close()
    console.print(f"warehouse: {settings.warehouse_file}")
    return DemoRun(result, snapshot, logins, sim_dir)
