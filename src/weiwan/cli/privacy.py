"""``weiwan privacy report|erase`` and ``weiwan purge``: one subscriber's personal data and
the retention periods (docs/privacy.md, "Personal data: report, erasure, retention")."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

import typer

from weiwan.cli.base import console, fail, ops_engine, out
from weiwan.core.errors import WeiwanError
from weiwan.core.settings import get_settings

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
    subscriber_id: Annotated[str, typer.Argument(help="The subscriber's id.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why (e.g. the request's reference; no personal data).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Erase one subscriber's personal data in the operational database and the warehouse:
    ids become a stable pseudonym where rows stay for the aggregates, personal fields are
    blanked, later deliveries drop the subscriber. Audited; erasing again changes nothing."""
    from weiwan.analytics.privacy import apply_erasures, subscriber_rows
    from weiwan.core.db import session_scope
    from weiwan.ops.privacy.service import erase_subscriber

    engine = ops_engine()
    try:
        wh = _duckdb_warehouse()  # refused on Spark before the operational side changes
        try:
            held = any(t.rows for t in subscriber_rows(wh, subscriber_id))
            with session_scope(engine) as session:
                done = erase_subscriber(
                    session,
                    None,
                    subscriber_id,
                    reason,
                    held_elsewhere=held,
                    ledger=get_settings().erasure_ledger_file,
                )
            warehouse_rows = apply_erasures(wh, done.salt, [(done.digest, done.pseudonym)])
        finally:
            wh.close()
    except WeiwanError as exc:
        raise fail(exc, as_json) from exc
    finally:
        engine.dispose()
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
