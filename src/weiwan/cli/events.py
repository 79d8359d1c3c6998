"""``weiwan events``: real-time event intake's service tokens."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from weiwan.cli.base import fail, ops_engine, out
from weiwan.core.errors import WeiwanError

events_app = typer.Typer(help="Real-time events (实时事件).", no_args_is_help=True)
token_app = typer.Typer(help="Service tokens of the event sources.", no_args_is_help=True)
events_app.add_typer(token_app, name="token")

NameOption = Annotated[str, typer.Option(help="The source system (the events' source).")]


@token_app.command("create")
def token_create(name: NameOption) -> None:
    """Create a source's token for `POST /api/v1/events` and print it (shown once; stored
    only as its hash; audited)."""
    from weiwan.core.db import session_scope
    from weiwan.ops.events.tokens import create_token

    engine = ops_engine()
    try:
        with session_scope(engine) as session:
            token = create_token(session, name)
        out.print(token, soft_wrap=True)
    except WeiwanError as exc:
        raise fail(exc) from exc
    finally:
        engine.dispose()


@token_app.command("revoke")
def token_revoke(name: NameOption) -> None:
    """Revoke a source's token (audited); its events stay."""
    from weiwan.core.db import session_scope
    from weiwan.ops.events.tokens import revoke_token

    engine = ops_engine()
    try:
        with session_scope(engine) as session:
            revoke_token(session, name)
        out.print(f"revoked the token of {name}")
    except WeiwanError as exc:
        raise fail(exc) from exc
    finally:
        engine.dispose()


@token_app.command("list")
def token_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The sources' tokens (never the tokens themselves): created, last used, revoked."""
    from weiwan.core.db import session_scope
    from weiwan.ops.events.tokens import list_tokens

    engine = ops_engine()
    try:
        with session_scope(engine) as session:
            rows = [
                {
                    "name": t.name,
                    "scope": t.scope,
                    "created_at": t.created_at.isoformat(),
                    "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                    "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
                }
                for t in list_tokens(session)
            ]
    finally:
        engine.dispose()
    if as_json:
        out.print_json(json.dumps(rows))
        return
    for row in rows:
        state = "revoked " + str(row["revoked_at"]) if row["revoked_at"] else "active"
        out.print(f"{row['name']:<32} {state:<40} last used {row['last_used_at'] or '-'}")


@events_app.command("process")
def process(
    limit: Annotated[int, typer.Option(min=1, help="Events at most per pass.")] = 500,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            help="Keep working: a pass whenever events wait, else a pause (a service; several "
            "may run at once on PostgreSQL). Stops on SIGTERM or Ctrl-C.",
        ),
    ] = False,
    pause: Annotated[
        float, typer.Option(min=0.01, max=60, help="Seconds between passes with --follow.")
    ] = 0.1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Process the oldest received events with the event rules in effect: those intake did not
    process (WEIWAN_EVENTS_PROCESS_AT_INTAKE=false, where posts are answered as soon as the
    events are stored and this worker processes them in batches; or after a fault)."""
    import signal

    from weiwan.core.db import session_scope
    from weiwan.ops.base import utcnow
    from weiwan.ops.events.processing import Processed, process_backlog

    stopping: list[bool] = []
    if follow:
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    engine = ops_engine()
    total = Processed()
    try:
        while not stopping:
            with session_scope(engine) as session:
                done = process_backlog(session, utcnow(), limit)
            total.processed += done.processed
            total.ignored += done.ignored
            total.failed += done.failed
            total.tasks += done.tasks
            if not follow:
                break
            if done.processed + done.ignored + done.failed < limit:
                time.sleep(pause)  # the backlog is worked off: wait for more
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()
    figures = {
        "processed": total.processed,
        "ignored": total.ignored,
        "failed": total.failed,
        "tasks": len(total.tasks),
    }
    _report(figures, as_json)


@events_app.command("follow-ups")
def follow_ups(
    limit: Annotated[int, typer.Option(min=1, help="Timers at most.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Fire the event rules' follow-up steps that are due (run it every minute from cron or a
    scheduler; safe to run twice at once: each step fires once)."""
    from weiwan.core.db import session_scope
    from weiwan.ops.base import utcnow
    from weiwan.ops.events.follow_ups import fire_due

    engine = ops_engine()
    try:
        with session_scope(engine) as session:
            fired = fire_due(session, utcnow(), limit=limit)
    finally:
        engine.dispose()
    figures = {
        "done": fired.done,
        "blocked": fired.blocked,
        "accepted": fired.accepted,
        "lost": fired.lost,
        "stopped": fired.stopped,
    }
    _report(figures, as_json)


@events_app.command("consume")
def consume(
    redis_url: Annotated[
        str, typer.Option("--redis", envvar="WEIWAN_EVENTS_REDIS_URL", help="Redis URL.")
    ] = "redis://127.0.0.1:6379/0",
    stream: Annotated[str, typer.Option(help="The stream the events are written to.")] = (
        "weiwan:events"
    ),
    group: Annotated[str, typer.Option(help="The consumer group.")] = "weiwan",
    source: Annotated[
        str, typer.Option(help="The events' source (the system writing the stream).")
    ] = "stream",
    consumer: Annotated[
        str | None, typer.Option(help="This consumer's name (default: host and process).")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, max=1000, help="Entries per read.")] = 200,
    claim_idle: Annotated[
        int, typer.Option(min=1, help="Seconds before another consumer's entries are taken over.")
    ] = 60,
    once: Annotated[bool, typer.Option("--once", help="Stop when the stream is drained.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON at the end.")] = False,
) -> None:
    """Take events in from a Redis stream (consumer group; each entry's field `event` holds
    one event as JSON), processed like POST /api/v1/events; entries are acknowledged after
    the database commit, so a killed consumer loses nothing and doubles nothing. Runs until
    SIGTERM or Ctrl-C (`--once`: until the stream is drained)."""
    import os
    import signal
    import socket

    import redis

    from weiwan.core.settings import get_settings
    from weiwan.ops.events.stream import StreamConsumer, StreamSettings

    settings = get_settings()
    stopping: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    engine = ops_engine()
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    reader = StreamConsumer(
        client,
        engine,
        StreamSettings(
            stream=stream,
            group=group,
            consumer=consumer or f"{socket.gethostname()}-{os.getpid()}",
            source=source,
            batch=batch,
            claim_idle_ms=claim_idle * 1000,
            max_backlog=settings.events_max_backlog,
            process=settings.events_process_at_intake,
        ),
    )
    try:
        total = reader.run(stop=lambda: bool(stopping), once=once)
    except KeyboardInterrupt:
        return
    except redis.RedisError as exc:
        raise fail(exc) from exc
    finally:
        client.close()
        engine.dispose()
    figures = {
        "read": total.read,
        "accepted": total.accepted,
        "duplicates": total.duplicates,
        "rejected": total.rejected,
        "tasks": len(total.tasks),
    }
    _report(figures, as_json)


def _report(figures: dict[str, int], as_json: bool) -> None:
    """A command's counts, as JSON or as one line."""
    if as_json:
        out.print_json(json.dumps(figures))
        return
    out.print(", ".join(f"{k} {v}" for k, v in figures.items()))
