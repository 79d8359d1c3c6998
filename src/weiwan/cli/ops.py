"""``weiwan db``, ``users``, ``serve`` and ``sms``: the operational service."""

from __future__ import annotations

from typing import Annotated

import typer

from weiwan.cli.base import console, fail, ops_engine, out
from weiwan.core.errors import WeiwanError
from weiwan.core.settings import get_settings

db_app = typer.Typer(help="The operational database.", no_args_is_help=True)


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

    engine = ops_engine()
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
        raise fail(
            WeiwanError("; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors()))
        ) from exc
    except WeiwanError as exc:
        raise fail(exc) from exc
    finally:
        engine.dispose()


@users_app.command("directory-check")
def users_directory_check() -> None:
    """Check the directory (LDAP) accounts that have an open session against the directory,
    between logins: disabled, in no mapped group or gone ends their sessions; a new group moves
    them (run every few minutes from cron; docs/ldap.md). Exits 2 without a directory
    (WEIWAN_LDAP_URL unset), 1 when the directory cannot be asked (nothing is changed then)."""
    from weiwan.core.db import session_scope
    from weiwan.ops.base import utcnow
    from weiwan.ops.org.directory_check import check_directory_accounts
    from weiwan.ops.org.directory_config import load_directory

    try:
        config = load_directory(get_settings())
    except WeiwanError as exc:
        raise fail(exc) from exc
    if config is None:
        out.print("no directory: WEIWAN_LDAP_URL is not set")
        raise typer.Exit(code=2)
    engine = ops_engine()
    try:
        with session_scope(engine) as session:
            result = check_directory_accounts(session, config, now=utcnow())
    except WeiwanError as exc:
        raise fail(exc) from exc
    finally:
        engine.dispose()
    gone = ", ".join(f"{n} {reason}" for reason, n in sorted(result.deactivated.items()))
    out.print(
        f"directory: {result.checked:,} account(s) in session checked, "
        f"{sum(result.deactivated.values()):,} deactivated{f' ({gone})' if gone else ''}, "
        f"{result.moved:,} moved to another role or branch, "
        f"{result.sessions_ended:,} session(s) ended, {result.unresolved:,} left as they were"
    )


def serve(
    host: Annotated[str | None, typer.Option(help="Address (default WEIWAN_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default WEIWAN_PORT).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the operational API (and the pages) on the database the settings name."""
    from weiwan.ops.org.directory_config import load_directory

    settings = get_settings()
    try:  # a mistake in the LDAP settings or group mapping: one clear line, before any worker
        load_directory(settings)
    except WeiwanError as exc:
        raise fail(exc) from exc
    ops_engine().dispose()  # migrate before the workers start
    address = host or settings.host
    chosen = settings.port if port is None else port
    out.print(f"weiwan on http://{address}:{chosen}  (API: /api/v1/docs)")
    if workers > 1:  # the workers' request metrics, merged by /metrics
        from weiwan.web.metrics import prepare_multiprocess

        prepare_multiprocess(settings.home / "var" / "prometheus")
    run_server(address, chosen, workers=workers)


def run_server(host: str, port: int, workers: int) -> None:
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


@sms_app.command("dispatch")
def sms_dispatch() -> None:
    """Send the queued SMS whose time has come through the configured gateway (run it every
    minute from cron or a scheduler; safe to run twice at once, each message goes once).
    Exits 1 when some answers were lost: see `weiwan sms reconcile`."""
    from datetime import timedelta

    from weiwan.core.db import session_scope
    from weiwan.ops.sms.dispatch import dispatch_due
    from weiwan.ops.sms.gateway import gateway_from_settings

    settings = get_settings()
    engine = ops_engine()
    try:
        with session_scope(engine) as session:
            result = dispatch_due(
                session,
                gateway_from_settings(settings),
                grace=timedelta(minutes=settings.sms_sending_grace_minutes),
            )
    except (WeiwanError, ValueError) as exc:
        raise fail(exc) from exc
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
    from weiwan.ops.sms.dispatch import reconcile_sending, resolve_unknown, unresolved_messages

    settings = get_settings()
    choices = {"sent": _ids(sent), "failed": _ids(failed), "queued": _ids(requeue)}
    engine = ops_engine()
    try:
        with session_scope(engine) as session:
            grace = timedelta(minutes=settings.sms_sending_grace_minutes)
            stuck = reconcile_sending(session, grace=grace)
            settled = {k: resolve_unknown(session, ids, k) for k, ids in choices.items() if ids}
            left = [(m.id, m.status, m.sending_at, m.error) for m in unresolved_messages(session)]
    except WeiwanError as exc:
        raise fail(exc) from exc
    finally:
        engine.dispose()
    out.print(f"sms: {len(stuck):,} stuck in sending marked unknown")
    for status, ids in settled.items():
        out.print(f"sms: {len(ids):,} marked {status}: {', '.join(map(str, ids)) or '-'}")
    for message_id, status, since, error in left:
        out.print(f"{message_id}\t{status}\t{since.isoformat() if since else '-'}\t{error or ''}")
    out.print(f"sms: {len(left):,} not settled")
