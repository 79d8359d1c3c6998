"""Publish a snapshot's results into the operational database (发布到运营库).

The request path reads only what is published here, never the warehouse. Nine kinds, each
replaced in one transaction of its own, with its ``publications`` row in the same transaction:

- ``policies``: the policy library that loaded (every valid policy, any approval state), full
  replace;
- ``contact_rules``: the contact rules as the ``config_documents`` row ``contact_rules``
  (upsert; a changed document is audited as ``config_change`` with no user);
- ``customer_view``: one row per subscriber of the snapshot's profile, full replace (the table
  holds the latest *published* snapshot only; readers see the old rows until the commit);
- ``decisions``: that snapshot date's rows are deleted, then loaded (other dates stay);
- ``settings``: the YAML of the policy library, alert and care rules and contact policy in
  effect, with their validation messages, after applying the edits made in the web
  (``publish_settings``);
- ``metrics``: the dashboards' figures computed in the warehouse (``published_metrics``,
  ``dissatisfied_customers``; ``publish_metrics``);
- ``anomalies``: the day's new anomaly-pool entries, added once (``publish_anomalies``);
- ``complaints``: the complaints of the last months, for the scorecards
  (``publish_complaints``);
- ``reports``: the weekly, monthly and churn analysis reports of the closed periods
  (``publish_reports``).

Rows are computed in the warehouse (one Ibis expression per table, staged as a DuckDB temp
table) and streamed as Arrow record batches: on PostgreSQL each batch is written as CSV by
Arrow and fed to ``COPY … FROM STDIN``; on SQLite they are inserted with ``executemany`` in
batches. Column names come from the models only; values are never formatted into SQL.

Branches: every branch code of the customer view is made to exist in ``branches`` (missing
ones are created with the code as both names). When the profile has ``region`` and the data is
clean (each branch code lies in exactly one region, and no region code is also a branch code
of the view) each region becomes a city branch (created when missing) and newly created branch
codes hang under it; branches that already exist are never changed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from weiwan.analytics.contact_policy import load_contact_policy
from weiwan.analytics.features import as_of_rows
from weiwan.analytics.policies import PolicyLibrary, eligibility, load_policies
from weiwan.analytics.profile import load_profile, snapshot_rows
from weiwan.analytics.tags import load_tag_library
from weiwan.analytics.warehouse import Warehouse, quote
from weiwan.core.logging import get_logger
from weiwan.core.settings import get_settings
from weiwan.ops.base import Base, utcnow
from weiwan.ops.customers.models import CustomerView, Publication, PublishedDecision
from weiwan.ops.customers.tags import TAG_LABELS_DOCUMENT, forget_tag_labels
from weiwan.ops.offers.models import PublishedPolicy
from weiwan.ops.org.models import AuditEvent, Branch, ConfigDocument
from weiwan.ops.org.service import forget_branch_tree
from weiwan.pipeline.publish_anomalies import publish_anomalies
from weiwan.pipeline.publish_complaints import publish_complaints
from weiwan.pipeline.publish_metrics import publish_metrics
from weiwan.pipeline.publish_reports import publish_reports
from weiwan.pipeline.publish_settings import apply_pending, publish_settings, settings_paths

log = get_logger(__name__)

KINDS = (
    "policies",
    "contact_rules",
    "customer_view",
    "decisions",
    "settings",
    "metrics",
    "anomalies",
    "complaints",
    "reports",
)
CONTACT_RULES = "contact_rules"
#: rows per Arrow batch read from the warehouse (one COPY write each on PostgreSQL)
BATCH_ROWS = 100_000
#: rows per executemany on SQLite
SQLITE_BATCH_ROWS = 10_000
#: customer_view columns taken from the warehouse ``subscribers`` table as of the snapshot
PII_COLUMNS = (
    "msisdn",
    "customer_id",
    "name",
    "id_number",
    "gender",
    "join_date",
    "contract_end_date",
    "status",
    "account_manager",
    "region",
)
#: customer_view column -> subscribers column, where the names differ
_SUBSCRIBER_SOURCE = {"branch_code": "branch"}
#: customer_view columns computed here rather than copied
_DERIVED = ("snapshot_date", "branch_id", "reasons", "tags", "eligible_policies")
_REASONS = 3
_CSV = pa_csv.WriteOptions(include_header=False, batch_size=BATCH_ROWS)


@dataclass
class PublishResult:
    """Rows published per kind (and seconds each took) for one snapshot."""

    snapshot: date
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    branches_created: int = 0


@ibis.udf.scalar.builtin(name="json_object")  # type: ignore[untyped-decorator]
def _json_object(k1: str, v1: str, k2: str, v2: str, k3: str, v3: str) -> str:  # type: ignore[empty-body]
    """DuckDB's ``json_object`` (keys and values JSON-escaped by DuckDB)."""


def _table(model: type[Base]) -> sa.Table:
    table = model.__table__
    assert isinstance(table, sa.Table)
    return table


# ----------------------------------------------------------------------------- entry point


def publish(
    warehouse: Warehouse,
    engine: sa.Engine,
    snapshot: date,
    *,
    kinds: Sequence[str] = KINDS,
    home: Path | None = None,
) -> PublishResult:
    """Publish ``snapshot``'s results (``kinds``, default all) into the database of ``engine``.

    Each kind is replaced atomically in its own transaction; re-publishing a date replaces it.
    The database must be migrated (``weiwan.ops.migrate.upgrade``). Settings edited in the web
    and waiting in the database are checked first and, when valid, applied (``<home>/config``,
    ``home`` defaulting to the settings' home), so that the policies and contact rules published
    now are the edited ones; the decision engine uses them from its next run.
    """
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown publish kinds {unknown}; use {', '.join(KINDS)}")
    profile = load_profile(warehouse, snapshot)
    home = home if home is not None else get_settings().home
    verdicts = apply_pending(engine, home, profile) if "settings" in kinds else {}
    paths = settings_paths(home)
    library = load_policies(paths.policies, profile=profile)
    result = PublishResult(snapshot)
    steps: dict[str, Callable[[], int]] = {
        "policies": lambda: _publish_policies(engine, snapshot, library),
        "contact_rules": lambda: _publish_contact_rules(engine, snapshot, paths.contact_policy),
        "customer_view": lambda: _publish_customer_view(
            warehouse, engine, snapshot, profile, library, result
        ),
        "decisions": lambda: _publish_decisions(warehouse, engine, snapshot),
        "settings": lambda: publish_settings(
            engine, snapshot, home=home, profile=profile, verdicts=verdicts
        ),
        "metrics": lambda: publish_metrics(warehouse, engine, snapshot),
        "anomalies": lambda: publish_anomalies(warehouse, engine, snapshot),
        "complaints": lambda: publish_complaints(warehouse, engine, snapshot),
        "reports": lambda: publish_reports(warehouse, engine, snapshot),
    }
    for kind in KINDS:
        if kind not in kinds:
            continue
        start = time.perf_counter()
        result.rows[kind] = steps[kind]()
        result.seconds[kind] = time.perf_counter() - start
        log.info(
            "publish.kind",
            kind=kind,
            snapshot=snapshot.isoformat(),
            rows=result.rows[kind],
            seconds=round(result.seconds[kind], 2),
        )
    return result


# ----------------------------------------------------------------------------- kinds


def _publish_policies(engine: sa.Engine, snapshot: date, library: PolicyLibrary) -> int:
    rows = [
        {
            "policy_id": p.id,
            "name_zh": p.name_zh,
            "name_en": p.name_en,
            "description": p.description,
            "offer_type": p.offer_type,
            "valid_from": p.valid_from,
            "valid_to": p.valid_until,  # open-ended: OPEN_END
            "min_spend": p.min_spend,
            "total_cost": p.total_cost(),
            "benefit_value": p.benefit_value,
            "commitment_months": p.commitment_months,
            "channels": " ".join(p.channels),
            "script_zh": p.script_zh,
            "script_en": p.script_en,
            "approval": p.approval,
            "budget_count": p.budget.count,
            "budget_money": p.budget.money,
        }
        for p in library.policies
    ]
    table = _table(PublishedPolicy)
    with engine.begin() as conn:
        conn.execute(sa.delete(table))
        if rows:
            conn.execute(sa.insert(table), rows)
        _record(conn, "policies", snapshot, len(rows))
    return len(rows)


def _publish_contact_rules(engine: sa.Engine, snapshot: date, path: Path | None = None) -> int:
    content = json.dumps(load_contact_policy(path).model_dump(mode="json"), ensure_ascii=False)
    table = _table(ConfigDocument)
    with engine.begin() as conn:
        before = conn.execute(
            sa.select(table.c.content).where(table.c.name == CONTACT_RULES)
        ).scalar_one_or_none()
        if before != content:
            values = {"name": CONTACT_RULES, "content": content, "updated_at": utcnow()}
            _upsert(conn, table, values, keys=("name",), updated_by=None)
            conn.execute(
                sa.insert(_table(AuditEvent)).values(
                    at=utcnow(),
                    user_id=None,
                    action="config_change",
                    target_type="config_document",
                    target_id=CONTACT_RULES,
                    detail=json.dumps(
                        {"by": "pipeline publish", "snapshot": snapshot.isoformat()},
                        ensure_ascii=False,
                    ),
                )
            )
        _record(conn, "contact_rules", snapshot, 1)
    return 1


def _publish_customer_view(
    warehouse: Warehouse,
    engine: sa.Engine,
    snapshot: date,
    profile: ir.Table,
    library: PolicyLibrary,
    result: PublishResult,
) -> int:
    if not int(profile.count().execute()):  # never swap the published view for nothing
        raise LookupError(f"no profile rows for {snapshot}: run `weiwan pipeline run` first")
    source = customer_rows(warehouse, profile, library, snapshot)
    pairs = source.select("branch_code", "region").distinct().to_pyarrow().to_pylist()
    table = _table(CustomerView)
    with engine.begin() as conn:
        branch_ids, created = ensure_branches(
            conn, [(r["branch_code"], r["region"]) for r in pairs]
        )
        result.branches_created = created
        rows = with_branch_ids(source, branch_ids)
        conn.execute(sa.delete(table))
        loaded = _load_staged(warehouse, conn, table, rows, "customer_view")
        _publish_tag_labels(conn)
        _record(conn, "customer_view", snapshot, loaded)
        if conn.dialect.name == "postgresql":  # fresh statistics for the screen-pop's plans
            conn.exec_driver_sql("ANALYZE customer_view")
    forget_tag_labels()
    if engine.dialect.name == "postgresql":  # the replaced rows' space, now rather than later
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM customer_view")
    return loaded


def tag_labels() -> dict[str, list[str]]:
    """[zh, en] name of every tag id the customer view's ``tags`` may hold: flag tags and the
    bands of band tags, from the tag library."""
    labels: dict[str, list[str]] = {}
    for tag in load_tag_library().tags:
        if tag.band is not None:
            labels.update({b.id: [b.name_zh, b.name_en] for b in tag.band.bands})
        else:
            labels[tag.id] = [tag.name_zh, tag.name_en]
    return labels


def _publish_tag_labels(conn: sa.Connection) -> None:
    """The tags' names beside the view (config document ``labels:tags``), so every channel
    shows 入网不足6个月 rather than ``tenure_under_6m``."""
    values = {
        "name": TAG_LABELS_DOCUMENT,
        "content": json.dumps(tag_labels(), ensure_ascii=False, sort_keys=True),
        "updated_at": utcnow(),
    }
    _upsert(conn, _table(ConfigDocument), values, keys=("name",), updated_by=None)


def _publish_decisions(warehouse: Warehouse, engine: sa.Engine, snapshot: date) -> int:
    table = _table(PublishedDecision)
    rows = None
    if warehouse.has_table("decisions"):
        rows = decision_rows(warehouse, snapshot)
    with engine.begin() as conn:
        conn.execute(sa.delete(table).where(table.c.snapshot_date == snapshot))
        loaded = 0 if rows is None else _load_staged(warehouse, conn, table, rows, "decisions")
        _record(conn, "decisions", snapshot, loaded)
    return loaded


# ----------------------------------------------------------------------------- row sources


def _ibis_type(column: sa.Column[Any]) -> dt.DataType:
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return dt.boolean
    if isinstance(kind, sa.Integer):
        return dt.int64
    if isinstance(kind, sa.Float):
        return dt.float64
    if isinstance(kind, sa.DateTime):
        return dt.timestamp
    if isinstance(kind, sa.Date):
        return dt.date
    return dt.string


def _typed(value: ir.Value, column: sa.Column[Any]) -> ir.Value:
    """``value`` as the model column's type; NaN (and ±inf) become NULL."""
    if value.type().is_floating():
        number: ir.FloatingValue = value
        value = ibis.cases((number.isnan() | number.isinf(), ibis.null(value.type())), else_=number)
    return value.cast(_ibis_type(column))


def _null(column: sa.Column[Any]) -> ir.Value:
    return ibis.null(_ibis_type(column))


def _spaced(pieces: Sequence[ir.StringValue]) -> ir.StringValue:
    """Non-NULL pieces joined by spaces and surrounded by spaces; NULL when there are none."""
    if not pieces:
        return ibis.null("string")
    joined = ibis.literal(" ").join(list(pieces)).nullif("")
    return ibis.literal(" ") + joined + ibis.literal(" ")


def _tags(profile: ir.Table) -> ir.StringValue:
    """The true flag tags' ids and the band ids of band tags, in tag-library order."""
    pieces: list[ir.StringValue] = []
    for tag in load_tag_library().tags:
        if tag.id not in profile.columns:
            continue
        value = profile[tag.id]
        if value.type().is_boolean():
            flag: ir.BooleanValue = value
            pieces.append(flag.ifelse(ibis.literal(tag.id), ibis.null("string")))
        elif value.type().is_string():
            band: ir.StringValue = value
            pieces.append(band.nullif(""))
    return _spaced(pieces)


def _reasons(profile: ir.Table) -> ir.StringValue:
    """JSON list of {zh, en, feature} from reason_1 … reason_3, empty ones left out."""
    items: list[ir.StringValue] = []
    for i in range(1, _REASONS + 1):
        zh = f"reason_{i}"
        if zh not in profile.columns:
            continue
        text: ir.StringValue = profile[zh]
        parts = [
            profile[n] if n in profile.columns else ibis.null("string")
            for n in (f"{zh}_en", f"{zh}_feature")
        ]
        item = _json_object("zh", text, "en", parts[0], "feature", parts[1])
        items.append(
            ibis.cases(
                (text.isnull() | (text == ""), ibis.null("string")), else_=item.cast("string")
            )
        )
    if not items:
        return ibis.null("string")
    joined = ibis.literal(",").join(items).nullif("")
    return ibis.literal("[") + joined + ibis.literal("]")


def _eligible(profile: ir.Table, library: PolicyLibrary, snapshot: date) -> ir.Table:
    """subscriber_id, eligible_policies (" a b ", policy ids sorted)."""
    pairs = eligibility(profile, library.policies, snapshot, target_groups=library.target_groups)
    grouped = pairs.group_by("subscriber_id").aggregate(
        e_policies=pairs.policy_id.group_concat(" ", order_by=pairs.policy_id)
    )
    return grouped.select(
        e_subscriber=grouped.subscriber_id,
        e_policies=ibis.literal(" ") + grouped.e_policies + ibis.literal(" "),
    )


def customer_rows(
    warehouse: Warehouse, profile: ir.Table, library: PolicyLibrary, snapshot: date
) -> ir.Table:
    """The customer view of ``snapshot`` without ``branch_id``: one row per profile subscriber,
    model columns and types. Personal data comes from the warehouse ``subscribers`` as of the
    snapshot, the way the features read it (``as_of_rows``: the version delivered on or before
    the snapshot, else the first delivery, so a history delivered later in one extract works)."""
    subscribers = as_of_rows(warehouse, "subscribers", snapshot)
    wanted = {*PII_COLUMNS, *_SUBSCRIBER_SOURCE.values()}
    subs = subscribers.select(
        s_subscriber_id=subscribers.subscriber_id,
        **{f"s_{c}": subscribers[c] for c in sorted(wanted) if c in subscribers.columns},
    )
    eligible = _eligible(profile, library, snapshot)
    joined = profile.join(subs, profile.subscriber_id == subs.s_subscriber_id).left_join(
        eligible, profile.subscriber_id == eligible.e_subscriber
    )
    columns: dict[str, ir.Value] = {}
    for column in _table(CustomerView).columns:
        name = column.name
        if name == "branch_id":
            continue
        if name == "snapshot_date":
            value: ir.Value = ibis.literal(snapshot, "date")
        elif name == "reasons":
            value = _reasons(joined)
        elif name == "tags":
            value = _tags(joined)
        elif name == "eligible_policies":
            value = joined.e_policies
        elif name in PII_COLUMNS or name in _SUBSCRIBER_SOURCE:
            source = f"s_{_SUBSCRIBER_SOURCE.get(name, name)}"
            value = joined[source] if source in joined.columns else _null(column)
        else:
            value = joined[name] if name in joined.columns else _null(column)
        columns[name] = _typed(value, column)
    return joined.select(**columns)


def with_branch_ids(rows: ir.Table, branch_ids: Mapping[str, int]) -> ir.Table:
    """``rows`` with ``branch_id`` looked up from ``branch_code``, in the model's column order,
    sorted by subscriber."""
    ids = ibis.memtable(
        pa.table(
            {
                "b_code": pa.array(list(branch_ids), pa.string()),
                "b_id": pa.array(list(branch_ids.values()), pa.int64()),
            }
        )
    )
    joined = rows.left_join(ids, rows.branch_code == ids.b_code)
    order = [c.name for c in _table(CustomerView).columns]
    return joined.select(
        *[joined.b_id.name("branch_id") if c == "branch_id" else joined[c] for c in order]
    ).order_by("subscriber_id")


def decision_rows(warehouse: Warehouse, snapshot: date) -> ir.Table:
    """The stored decisions of ``snapshot`` in the published model's columns (no ``id``)."""
    stored = snapshot_rows(warehouse, "decisions", snapshot)
    columns: dict[str, ir.Value] = {}
    for column in _table(PublishedDecision).columns:
        if column.name == "id":
            continue
        value = stored[column.name] if column.name in stored.columns else _null(column)
        columns[column.name] = _typed(value, column)
    return stored.select(**columns).order_by("subscriber_id", "trigger_kind", "trigger")


# ----------------------------------------------------------------------------- branches


def ensure_branches(
    conn: sa.Connection, pairs: Sequence[tuple[str | None, str | None]]
) -> tuple[dict[str, int], int]:
    """Make every branch code of ``pairs`` ((branch code, region)) exist in ``branches``.

    Returns code -> id (for every branch code, and the region branches used as parents) and
    the number of branches created. Existing branches are left as they are.
    """
    table = _table(Branch)
    existing = {
        str(code): int(ident)
        for code, ident in conn.execute(sa.select(table.c.code, table.c.id)).all()
    }
    regions_of: dict[str, set[str]] = {}
    for code, region in pairs:
        if code:
            regions_of.setdefault(code, set())
            if region:
                regions_of[code].add(region)
    codes = set(regions_of)
    clean = all(len(r) <= 1 for r in regions_of.values()) and not (
        {r for rs in regions_of.values() for r in rs} & codes
    )
    if not clean:
        log.warning(
            "publish.branches_flat",
            reason="a branch lies in several regions, or a "
            "region code is also a branch code: new branches get no parent",
        )
    created = 0

    def create(code: str, parent: int | None) -> int:
        nonlocal created
        inserted = conn.execute(
            sa.insert(table).values(code=code, name_zh=code, name_en=code, parent_id=parent)
        )
        created += 1
        key = inserted.inserted_primary_key
        assert key is not None
        return int(key[0])

    for code in sorted(codes - set(existing)):
        parent = None
        region = next(iter(regions_of[code]), None) if clean else None
        if region is not None:
            if region not in existing:
                existing[region] = create(region, None)
            parent = existing[region]
        existing[code] = create(code, parent)
    if created:
        log.info("publish.branches_created", created=created)
        forget_branch_tree()
    return existing, created


# ----------------------------------------------------------------------------- loading


def _record(conn: sa.Connection, kind: str, snapshot: date, rows: int) -> None:
    """Upsert the publications row of (kind, snapshot)."""
    values = {"kind": kind, "snapshot_date": snapshot, "rows": rows, "published_at": utcnow()}
    _upsert(conn, _table(Publication), values, keys=("kind", "snapshot_date"))


def _upsert(
    conn: sa.Connection,
    table: sa.Table,
    values: Mapping[str, Any],
    *,
    keys: Sequence[str],
    **extra: Any,
) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE (PostgreSQL and SQLite)."""
    row = {**values, **extra}
    updates = {k: v for k, v in row.items() if k not in keys}
    if conn.dialect.name == "postgresql":
        pg = postgresql.insert(table).values(row)
        conn.execute(pg.on_conflict_do_update(index_elements=list(keys), set_=updates))
    elif conn.dialect.name == "sqlite":
        lite = sqlite.insert(table).values(row)
        conn.execute(lite.on_conflict_do_update(index_elements=list(keys), set_=updates))
    else:
        raise NotImplementedError(f"publishing to {conn.dialect.name} is not supported")


def _record_batches(warehouse: Warehouse, staged: str) -> Iterator[pa.RecordBatch]:
    """The staged rows as Arrow record batches of up to BATCH_ROWS rows, in stored order."""
    yield from warehouse.con.con.sql(f"SELECT * FROM {quote(staged)}").to_arrow_reader(BATCH_ROWS)


def _load_staged(
    warehouse: Warehouse, conn: sa.Connection, table: sa.Table, rows: ir.Table, kind: str
) -> int:
    """Stage ``rows`` in the warehouse (a temp table), then bulk-load them into ``table``."""
    staged = f"_publish_{kind}"
    warehouse.con.create_table(staged, rows, temp=True, overwrite=True)
    try:
        batches = _record_batches(warehouse, staged)
        if conn.dialect.name == "postgresql":
            return copy_batches(conn, table, batches)
        return insert_batches(conn, table, batches)
    finally:
        warehouse.execute(f"DROP TABLE IF EXISTS {quote(staged)}")


def _checked_columns(table: sa.Table, names: Sequence[str]) -> list[str]:
    unknown = [n for n in names if n not in table.columns]
    if unknown:
        raise ValueError(f"{table.name} has no columns {unknown}")
    return [table.columns[n].name for n in names]


def copy_batches(conn: sa.Connection, table: sa.Table, batches: Iterator[pa.RecordBatch]) -> int:
    """PostgreSQL: ``COPY table (columns) FROM STDIN (FORMAT csv)``, each batch written as CSV
    by Arrow (NULL: empty unquoted field; strings always quoted). Returns rows loaded."""
    import psycopg
    from psycopg import sql

    dbapi = conn.connection.dbapi_connection
    assert isinstance(dbapi, psycopg.Connection)
    first = next(batches, None)
    if first is None:
        return 0
    columns = _checked_columns(table, first.schema.names)
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    rows = 0
    with dbapi.cursor() as cursor, cursor.copy(statement) as copy:
        for batch in _chain(first, batches):
            sink = pa.BufferOutputStream()
            pa_csv.write_csv(batch, sink, _CSV)
            copy.write(memoryview(sink.getvalue()))
            rows += batch.num_rows
    return rows


def insert_batches(conn: sa.Connection, table: sa.Table, batches: Iterator[pa.RecordBatch]) -> int:
    """Any other database (SQLite): executemany INSERTs of SQLITE_BATCH_ROWS rows."""
    rows = 0
    statement = sa.insert(table)
    for batch in batches:
        _checked_columns(table, batch.schema.names)
        for start in range(0, batch.num_rows, SQLITE_BATCH_ROWS):
            chunk = batch.slice(start, SQLITE_BATCH_ROWS).to_pylist()
            conn.execute(statement, chunk)
            rows += len(chunk)
    return rows


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest
