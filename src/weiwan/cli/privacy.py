"""``weiwan privacy report|erase`` and ``weiwan purge``: one subscriber's personal data and
the retention periods (docs/privacy.md, "Personal data: report, erasure, retention")."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from weiwan.cli.base import console, fail, ops_engine, out, print_row_errors
from weiwan.core.errors import NotFoundError, WeiwanError
from weiwan.core.settings import get_settings

if TYPE_CHECKING:
    from weiwan.ops.privacy.requests import ErasureRequest
    from weiwan.ops.privacy.service import ErasureResult

privacy_app = typer.Typer(
    help="One subscriber's personal data: report and erasure (个人信息保护法).",
    no_args_is_help=True,
)
#: exit codes of ``weiwan purge`` (like ``weiwan daily``): failed, nothing expired
EXIT_FAILED, EXIT_NOTHING = 1, 2


def _duckdb_warehouse() -> Any:
    """The DuckDB warehouse, or a clear refusal on the Spark engine (before any change)."""
    from weiwan.analytics.privacy import SparkNotSupportedError
    from weiwan.analytics.warehouse import Warehouse

    settings = get_settings()
    if settings.engine == "spark":
        raise fail(SparkNotSupportedError())
    return Warehouse.from_settings(settings)


@privacy_app.command("report")
def privacy_report(
    subscriber_id: Annotated[str, typer.Argument(help="The subscriber's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """What is held about one subscriber, where, why and for how long, in the operational
    database and the warehouse (numbers masked as for the administrator; audited as a
    personal-data export)."""
    from weiwan.analytics.privacy import subscriber_rows
    from weiwan.core.db import session_scope
    from weiwan.core.retention import load_rules
    from weiwan.ops.privacy.service import personal_data_report

    engine = ops_engine()
    try:
        rules = load_rules(get_settings().home)
        wh = _duckdb_warehouse()
        try:
            counted = {t.table: t for t in subscriber_rows(wh, subscriber_id)}
        finally:
            wh.close()
        with session_scope(engine) as session:
            found = personal_data_report(
                session,
                None,
                subscriber_id,
                rules,
                held_elsewhere=any(t.rows for t in counted.values()),
            )
    except WeiwanError as exc:
        raise fail(exc, as_json) from exc
    finally:
        engine.dispose()
    places = [asdict(p) for p in found.places]
    for place in places:
        if place["store"] == "warehouse":
            held = counted.pop(place["table"], None)
            place["rows"] = held.rows if held else 0
    for extra in counted.values():  # derived tables (features, scores, decisions …)
        places.append(
            {
                "store": "warehouse",
                "table": extra.table,
                "kind": "derived",
                "purpose": "churn_prediction",
                "fields": ["subscriber_id"],
                "rows": extra.rows,
                "retention_months": None,
            }
        )
    if as_json:
        body = {
            "subscriber_id": subscriber_id,
            "erased": found.erased,
            "subject": found.subject,
            "places": places,
        }
        out.print_json(json.dumps(body, ensure_ascii=False))
        return
    out.print(f"subscriber {subscriber_id}" + (" (erased)" if found.erased else ""))
    for key, value in found.subject.items():
        out.print(f"  {key}: {value}", highlight=False, markup=False)
    for p in places:
        months = p["retention_months"]
        kept = f"{months} months" if months else "while served"
        out.print(
            f"{p['store']:9} {p['table']:24} {p['rows'] if p['rows'] is not None else '-':>7}  "
            f"{p['kind']:16} {kept:13} {', '.join(p['fields'])}",
            highlight=False,
            markup=False,
        )


@privacy_app.command("erase")
def privacy_erase(
    subscriber_id: Annotated[
        str | None, typer.Argument(help="The subscriber's id (or --file for a batch).")
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason",
            help="Why (e.g. the request's reference; no personal data); with --file, for the "
            "rows that give none.",
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            exists=True,
            dir_okay=False,
            help="A batch of requests (CSV: subscriber_id[, reason]); every row is checked first.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Erase one subscriber's personal data, or a file's batch of them, in the operational
    database and the warehouse: ids become a stable pseudonym where rows stay for the
    aggregates, personal fields are blanked, later deliveries drop the subscriber. Audited;
    erasing again changes nothing."""
    if (subscriber_id is None) == (file is None):
        raise fail(WeiwanError("give one subscriber id or --file with a batch"), as_json)
    if file is not None:
        _erase_file(file, reason, as_json)
        return
    if not reason:
        raise fail(WeiwanError("--reason: give the reason for the erasure"), as_json)
    from weiwan.ops.privacy.requests import ErasureRequest

    assert subscriber_id is not None
    batch = _erase([ErasureRequest(0, subscriber_id, reason)], as_json, missing_fails=True)
    done, warehouse_rows = batch.done[0], batch.warehouse
    body = {
        "pseudonym": done.pseudonym,
        "already_erased": done.already_erased,
        "ops": done.rows,
        "warehouse": warehouse_rows,
    }
    if as_json:
        out.print_json(json.dumps(body, ensure_ascii=False))
        return
    if done.already_erased and not done.rows and not warehouse_rows:
        out.print(f"already erased as {done.pseudonym}: nothing changed")
        return
    out.print(f"erased as {done.pseudonym}", highlight=False)
    for store, counts in (("ops", done.rows), ("warehouse", warehouse_rows)):
        for table, rows in sorted(counts.items()):
            out.print(f"  {store}.{table}: {rows:,} rows", highlight=False, markup=False)


@dataclass
class _Batch:
    """What a run of erasures did: each done erasure, the requests nothing held, and the
    warehouse's rows changed per table."""

    done: list[ErasureResult] = field(default_factory=list)
    not_held: list[ErasureRequest] = field(default_factory=list)
    warehouse: dict[str, int] = field(default_factory=dict)


def _erase(requests: list[ErasureRequest], as_json: bool, *, missing_fails: bool) -> _Batch:
    """Erase each request in a transaction of its own (appended to the erasure ledger before
    it commits), then the warehouse once for all. A request nothing holds fails the command
    when ``missing_fails`` (one subscriber), else is listed."""
    from weiwan.analytics.privacy import apply_erasures, held_subscribers
    from weiwan.core.db import session_scope
    from weiwan.ops.privacy.service import erase_subscriber

    batch = _Batch()
    engine = ops_engine()
    try:
        wh = _duckdb_warehouse()  # refused on Spark before the operational side changes
        try:
            held = held_subscribers(wh, [r.subscriber_id for r in requests])
            ledger = get_settings().erasure_ledger_file
            for request in requests:
                try:
                    with session_scope(engine) as session:
                        done = erase_subscriber(
                            session,
                            None,
                            request.subscriber_id,
                            request.reason,
                            held_elsewhere=request.subscriber_id in held,
                            ledger=ledger,
                        )
                except NotFoundError:
                    if missing_fails:
                        raise
                    batch.not_held.append(request)
                    continue
                batch.done.append(done)
            if batch.done:
                pairs = [(d.digest, d.pseudonym) for d in batch.done]
                batch.warehouse = apply_erasures(wh, batch.done[0].salt, pairs)
        finally:
            wh.close()
    except WeiwanError as exc:
        if batch.done:  # the warehouse follows the committed erasures at the next daily run
            console.print(
                f"{len(batch.done):,} erasure(s) were committed before the error; run the "
                "same command again to finish (erasing again changes nothing)",
                highlight=False,
                markup=False,
            )
        raise fail(exc, as_json) from exc
    finally:
        engine.dispose()
    return batch


def _erase_file(file: Path, reason: str | None, as_json: bool) -> None:
    """``--file``: check every row, then erase each request and report the counts."""
    from weiwan.ops.privacy.requests import ErasureFileError, read_requests

    try:
        with file.open("rb") as content:
            requests = read_requests(file.name, content, reason)
    except ErasureFileError as exc:
        print_row_errors(exc)
        raise fail(WeiwanError(f"{exc.total} error(s); nothing was erased"), as_json) from exc
    batch = _erase(requests, as_json, missing_fails=False)
    again = sum(1 for d in batch.done if d.already_erased)
    ops_rows = _summed(d.rows for d in batch.done)
    body = {
        "requests": len(requests),
        "erased": len(batch.done) - again,
        "already_erased": again,
        "not_found": [{"row": r.row, "subscriber_id": r.subscriber_id} for r in batch.not_held],
        "ops": ops_rows,
        "warehouse": batch.warehouse,
    }
    if as_json:
        out.print_json(json.dumps(body, ensure_ascii=False))
        return
    out.print(
        f"{file.name}: {len(requests):,} requests, {body['erased']:,} erased, {again:,} already "
        f"erased, {len(batch.not_held):,} not found",
        highlight=False,
        markup=False,
    )
    for r in batch.not_held:
        out.print(
            f"  row {r.row}: {r.subscriber_id} not found (nothing held)",
            highlight=False,
            markup=False,
        )
    for store, counts in (("ops", ops_rows), ("warehouse", batch.warehouse)):
        for table, rows in sorted(counts.items()):
            out.print(f"  {store}.{table}: {rows:,} rows", highlight=False, markup=False)


def _summed(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    """Rows per table over several erasures."""
    total: dict[str, int] = {}
    for one in counts:
        for table, rows in one.items():
            total[table] = total.get(table, 0) + rows
    return total


def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what is expired; change nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Delete or anonymise the personal data older than its retention period
    (<home>/retention.yaml, else the shipped defaults) in the operational database and the
    warehouse, in batches; audited with the rows per kind. Exit 0: purged; 2: nothing was
    expired; 1: failed."""
    from weiwan.analytics.privacy import purge as purge_warehouse
    from weiwan.core.retention import load_rules
    from weiwan.ops.privacy.purge import audit_purge, purge_ops

    today = date.today()
    engine = ops_engine()
    try:
        rules = load_rules(get_settings().home)
        wh = _duckdb_warehouse()
        try:
            counts = purge_ops(engine, rules, today, dry_run=dry_run)
            counts += purge_warehouse(wh, rules, today, dry_run=dry_run)
        finally:
            wh.close()
        if not dry_run:
            audit_purge(engine, counts, today)
    except WeiwanError as exc:
        raise fail(exc, as_json) from exc
    finally:
        engine.dispose()
    total = sum(c.rows for c in counts)
    if as_json:
        body = {"dry_run": dry_run, "rows": total, "places": [asdict(c) for c in counts]}
        out.print_json(json.dumps(body, ensure_ascii=False))
    else:
        verb = "would purge" if dry_run else "purged"
        for c in counts:
            if c.rows:
                out.print(
                    f"{c.store}.{c.table} ({c.kind}, {c.action}): {c.rows:,} rows",
                    highlight=False,
                    markup=False,
                )
        console.print(f"{verb} {total:,} rows", highlight=False)
    if not total:
        raise typer.Exit(EXIT_NOTHING)
