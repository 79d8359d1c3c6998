"""``weiwan consents``: the consent and objection ledger (docs/privacy.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from weiwan.cli.base import fail, ops_engine, out, print_row_errors
from weiwan.core.errors import WeiwanError
from weiwan.core.settings import get_settings

consents_app = typer.Typer(
    help="The consent and objection ledger (个人信息保护法).", no_args_is_help=True
)


@consents_app.command("import")
def consents_import(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="The CRM's consents (CSV).")
    ],
) -> None:
    """Import the CRM's consents and objections (CSV: subscriber_id, purpose, channel, state,
    effective_at, reference). Every row is checked first: a file with an error stores nothing
    and the errors name row and column. Importing the same file again changes nothing."""
    from zoneinfo import ZoneInfo

    from weiwan.core.db import session_scope
    from weiwan.ops.consents.imports import ConsentFileError, import_consents

    engine = ops_engine()
    try:
        with file.open("rb") as content, session_scope(engine) as session:
            result = import_consents(
                session, file.name, content, tz=ZoneInfo(get_settings().timezone)
            )
    except ConsentFileError as exc:
        print_row_errors(exc)
        raise fail(WeiwanError(f"{exc.total} error(s); nothing was stored")) from exc
    except WeiwanError as exc:
        raise fail(exc) from exc
    finally:
        engine.dispose()
    out.print(
        f"consents: {result.rows:,} rows, {result.recorded:,} recorded, "
        f"{result.unchanged:,} already recorded"
    )
