"""``weiwan demo`` and ``weiwan simulate strategy-check``: the simulator-driven runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from weiwan.cli.base import fail, last_complete_month, ops_engine, out, progress_bar, with_progress
from weiwan.cli.data import simulate_app
from weiwan.cli.ops import run_server
from weiwan.core.errors import WeiwanError
from weiwan.core.settings import get_settings

if TYPE_CHECKING:  # the loop's module is imported only when the command runs
    from weiwan.demo.loop import LoopResult


@simulate_app.command("strategy-check")
def strategy_check(
    subscribers: Annotated[int, typer.Option(min=1000, help="Subscribers to simulate.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    months: Annotated[int, typer.Option(min=6, max=60, help="Months of history.")] = 12,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Next best action vs top-risk-cheapest-offer vs random vs oracle, same budget, by truth."""
    import tempfile

    from weiwan.demo.strategy_check import plan_strategies, summarise
    from weiwan.sim.strategy_value import TruthPrices

    with tempfile.TemporaryDirectory(prefix="weiwan-strategy-") as tmp:
        root = Path(tmp)
        plan = with_progress(
            as_json,
            lambda update: plan_strategies(
                root,
                subscribers,
                seed,
                months=months,
                end_month=last_complete_month(),
                progress=update,
            ),
        )
        # only this evaluation reads the simulator's ground truth, never the decisions
        prices = TruthPrices.from_truth(root / "sim" / "truth", f"{plan.snapshot:%Y-%m}")
        result = summarise(plan, subscribers, prices)
    if as_json:
        out.print_json(json.dumps(result.as_dict(), ensure_ascii=False))
        return
    out.print(
        f"expected revenue saved by one month's campaign ({result.snapshot}, budget "
        f"{result.budget:,.0f} yuan, next 12 months' revenue):"
    )
    for name in ("nba", "top_risk", "random", "oracle", "latent_oracle", "evidence_oracle"):
        value = getattr(result, name)
        out.print(
            f"  {name:<15} {value:>12,.0f}  treated {result.treated[name]:>7,}  "
            f"spent {result.spent[name]:>10,.0f}  per yuan {result.saved_per_yuan[name]:>6.2f}"
        )
    out.print(
        f"nba ÷ oracle {result.nba_vs_oracle:.2f}, ÷ latent oracle (each line's state, not its "
        f"personal draws) {result.nba_vs_latent_oracle:.2f}, ÷ evidence oracle (what the "
        f"features show) {result.nba_vs_evidence_oracle:.2f}; latent ÷ oracle "
        f"{result.latent_oracle_vs_oracle:.2f}: the most evidence can reach"
    )
    source = "learned from outcomes" if result.uplift_learned else "the prior"
    out.print(f"uplift ({source}) against the true effects: Qini {result.uplift_qini:.3f}")
    for variant, plans in result.allocation.items():
        out.print(f"allocation, budgets {variant.replace('_', ' ')}:")
        for name, figures in plans.items():
            out.print(
                f"  {name:<8} expected value {figures['expected_value']:>10,.0f}  "
                f"spent {figures['spent']:>10,.0f}  true saving {figures['saved']:>10,.0f}  "
                f"treated {figures['treated']:>7,.0f}"
            )


@simulate_app.command("loop")
def loop(
    subscribers: Annotated[int, typer.Option(min=1000, help="Subscribers to simulate.")] = 20_000,
    months: Annotated[int, typer.Option(min=1, max=24, help="Month ends to decide at.")] = 6,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    history: Annotated[int, typer.Option(min=6, max=60, help="Months of history first.")] = 12,
    campaign_history: Annotated[
        bool,
        typer.Option(
            help="Whether the history holds the operator's former campaigns with hold-outs "
            "(--no-campaign-history: a cold start, learning from the product's own outcomes)."
        ),
    ] = True,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Keep the deliveries, warehouse and databases here."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Run a simulated operator month by month through the whole product (pipeline, publish,
    tasks worked, outcomes learned): next best action vs top-risk-first at equal spend, and the
    oracle, priced by the simulator's truth. The last month decided is the last complete one."""
    import tempfile
    from contextlib import nullcontext

    from weiwan.demo.loop import first_month, run_loop

    holder = (
        nullcontext(str(out_dir)) if out_dir else tempfile.TemporaryDirectory(prefix="weiwan-loop-")
    )
    with holder as tmp:
        root = Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        result = with_progress(
            as_json,
            lambda update: run_loop(
                root,
                subscribers=subscribers,
                months=months,
                seed=seed,
                end_month=first_month(last_complete_month(), months),
                history_months=history,
                campaign_history=campaign_history,
                progress=update,
            ),
        )
    if as_json:
        out.print_json(json.dumps(result.as_dict(), ensure_ascii=False))
        return
    print_loop(result)


def print_loop(result: LoopResult) -> None:
    """The loop's figures as a table, a month a row."""
    out.print("true revenue saved per month (next 12 months' revenue, yuan):")
    out.print(
        f"  {'month':<8} {'nba':>10} {'top_risk':>10} {'oracle':>10} {'nba/oracle':>10} "
        f"{'unruled':>10} {'latent':>10} {'nba/latent':>10} {'nba/top':>8} {'nba per yuan':>12} "
        f"{'w/o draws':>9} {'uplift Qini':>11}"
    )
    for row in result.rows():
        out.print(
            f"  {row['month']:<8} {row['nba']:>10,.0f} {row['top_risk']:>10,.0f} "
            f"{row['oracle']:>10,.0f} {_share(row['nba_vs_oracle']):>10} "
            f"{row['oracle_unruled']:>10,.0f} "
            f"{row['latent_oracle']:>10,.0f} {_share(row['nba_vs_latent_oracle']):>10} "
            f"{_share(row['nba_vs_top_risk']):>8} {_share(row['nba_per_yuan']):>12} "
            f"{_share(row['nba_per_yuan_expected']):>9} {_share(row['uplift_qini']):>11}"
        )
    out.print(
        "oracle: the most nba's spend could have saved in its arm, keeping the rules nba keeps "
        "(policy entry limits, contact rules); unruled: the same, free to break them; latent: "
        "the oracle knowing each line's state but not the personal draws no record shows; "
        "w/o draws: nba's saving per yuan averaged over those draws (a month's luck left out)"
    )


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


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

    from weiwan.demo.people import DEMO_PASSWORD
    from weiwan.demo.seed import run_demo

    settings = get_settings()
    try:
        run = run_demo(
            settings,
            subscribers=subscribers,
            months=months,
            seed=seed,
            end_month=last_complete_month(),
            console=out,
            progress=progress_bar,
        )
    except WeiwanError as exc:
        raise fail(exc) from exc
    logins = Table("username", "role", "name", "branch", title=f"logins (password {DEMO_PASSWORD})")
    for login in run.logins:
        logins.add_row(login.username, login.role.value, login.display_name, login.branch)
    out.print(logins)
    if serve_app:
        address = settings.host
        chosen = settings.port if port is None else port
        out.print(f"weiwan demo on http://{address}:{chosen}  (log in as one of the users above)")
        if run.sim_dir is not None:
            _replay_a_morning(run.sim_dir, f"http://{address}:{chosen}")
        run_server(address, chosen, workers=1)


#: events a second the demo's morning arrives at (a live feel, not a load test)
DEMO_EVENT_RATE = 2.0


def _replay_a_morning(sim_dir: Path, base: str) -> None:
    """Create a source token and, once the server answers, post the simulated operator's last
    morning of events as if happening now, a few a second, from a background thread: the pages
    show real-time alerts' tasks arriving."""
    import logging
    import threading
    import time
    from datetime import UTC, datetime

    import httpx

    from weiwan.core.db import session_scope
    from weiwan.demo.replay import last_morning, replay
    from weiwan.ops.events.tokens import create_token
    from weiwan.sim.event_stream import load_events

    events = last_morning(load_events(sim_dir))
    if not events:
        return
    engine = ops_engine()
    try:
        with session_scope(engine) as session:
            token = create_token(session, f"demo-{datetime.now(UTC):%Y%m%d%H%M%S}")
    finally:
        engine.dispose()

    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a log line per event

    def run() -> None:
        for _ in range(120):  # wait for the server
            try:
                httpx.get(f"{base}/login", timeout=2.0)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        try:
            url = f"{base}/api/v1/events"
            replay(events, url, token, rate=DEMO_EVENT_RATE, batch=1, as_now=True)
        except WeiwanError as exc:  # the demo goes on without its live events
            out.print(f"demo events stopped: {exc}")

    threading.Thread(target=run, name="demo-events", daemon=True).start()
    out.print(
        f"demo events: {len(events):,} events of a simulated morning arrive over "
        f"{len(events) / DEMO_EVENT_RATE / 60:,.0f} minutes (real-time alerts, /events)"
    )
