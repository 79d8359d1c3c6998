"""Publish the customer view (kind ``customer_view``): one row per subscriber of the
snapshot's profile, full replace (the table holds the latest *published* snapshot only; readers
see the old rows until the commit; on PostgreSQL a bare twin is loaded, indexed and swapped in,
:mod:`.swap`), with the tags' names beside it (config document
``labels:tags``) and the branches of its branch codes (:mod:`.branches`).

Rows are computed in the warehouse (one Ibis expression) and bulk-loaded by
:func:`~weiwan.pipeline.publish.transport.load_staged`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import sqlalchemy as sa

from weiwan.analytics.features import as_of_rows
from weiwan.analytics.policies import PolicyLibrary, eligibility
from weiwan.analytics.tags import DEFAULT_LIBRARY, TagLibrary, load_tag_library
from weiwan.analytics.warehouse import Warehouse
from weiwan.ops.base import utcnow
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.customers.tags import (
    TAG_LABELS_DOCUMENT,
    TAG_LIBRARY_DOCUMENT,
    forget_tag_labels,
)
from weiwan.ops.org.models import ConfigDocument
from weiwan.ops.org.policy_check import TARGET_GROUPS_DOCUMENT
from weiwan.pipeline.publish.bookkeeping import record_publication
from weiwan.pipeline.publish.branches import ensure_branches
from weiwan.pipeline.publish.columns import null_of, typed
from weiwan.pipeline.publish.swap import swap_in
from weiwan.pipeline.publish.transport import load_staged, table_of, upsert

KIND = "customer_view"
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
_REASONS = 3


def publish_customer_view(
    warehouse: Warehouse,
    engine: sa.Engine,
    snapshot: date,
    profile: ir.Table,
    library: PolicyLibrary,
    tags: TagLibrary | None = None,
) -> tuple[int, int]:
    """Replace the customer view with ``snapshot``'s; returns (rows loaded, branches created).

    Refuses (``LookupError``) a snapshot without profile rows rather than empty the view."""
    if not int(profile.count().execute()):  # never swap the published view for nothing
        raise LookupError(f"no profile rows for {snapshot}: run `weiwan pipeline run` first")
    source = customer_rows(warehouse, profile, library, snapshot, tags)
    pairs = source.select("branch_code", "region").distinct().to_pyarrow().to_pylist()
    table = table_of(CustomerView)
    with engine.begin() as conn:
        ids, created = ensure_branches(conn, [(r["branch_code"], r["region"]) for r in pairs])
        rows = with_branch_ids(source, ids)
        if conn.dialect.name == "postgresql":  # a bare twin loaded, indexed, swapped in
            loaded = swap_in(
                conn, table, lambda twin: load_staged(warehouse, conn, twin, rows, KIND)
            )
        else:
            conn.execute(sa.delete(table))
            loaded = load_staged(warehouse, conn, table, rows, KIND)
        _publish_labels(conn, library, tags)
        record_publication(conn, KIND, snapshot, loaded)
    forget_tag_labels()
    return loaded, created


def tag_labels(tags: TagLibrary | None = None) -> dict[str, list[str]]:
    """[zh, en] name of every tag id the customer view's ``tags`` may hold: flag tags and the
    bands of band tags, from the tag library (``tags``: the one in effect; None: shipped)."""
    labels: dict[str, list[str]] = {}
    for tag in (tags or load_tag_library()).tags:
        if tag.band is not None:
            labels.update({b.id: [b.name_zh, b.name_en] for b in tag.band.bands})
        else:
            labels[tag.id] = [tag.name_zh, tag.name_en]
    return labels


def _publish_labels(
    conn: sa.Connection, library: PolicyLibrary, tags: TagLibrary | None = None
) -> None:
    """The tags' names beside the view (config document ``labels:tags``), so every channel
    shows 入网不足6个月 rather than ``tenure_under_6m``; and the target groups' ids and names
    (``labels:target_groups``), so the policy editors check and offer them."""
    groups = [
        {"id": g.id, "name_zh": g.name_zh, "name_en": g.name_en} for g in library.target_groups
    ]
    in_effect = tags or load_tag_library()
    definitions = [
        {
            "id": t.id, "name_zh": t.name_zh, "name_en": t.name_en, "category": t.category,
            "expression": t.expression, "band": t.band is not None,
            "edited": in_effect.files.get(t.id) is not None
            and in_effect.files[t.id].parent != DEFAULT_LIBRARY,
        }
        for t in in_effect.tags
    ]  # fmt: skip
    for name, content in (
        (TAG_LABELS_DOCUMENT, json.dumps(tag_labels(tags), ensure_ascii=False, sort_keys=True)),
        (TARGET_GROUPS_DOCUMENT, json.dumps(groups, ensure_ascii=False)),
        (TAG_LIBRARY_DOCUMENT, json.dumps(definitions, ensure_ascii=False)),
    ):
        values = {"name": name, "content": content, "updated_at": utcnow()}
        upsert(conn, table_of(ConfigDocument), values, keys=("name",), updated_by=None)


# ----------------------------------------------------------------------------- row sources


def _spaced(pieces: Sequence[ir.StringValue]) -> ir.StringValue:
    """Non-NULL pieces joined by spaces and surrounded by spaces; NULL when there are none."""
    if not pieces:
        return ibis.null("string")
    joined = ibis.literal(" ").join(list(pieces)).nullif("")
    return ibis.literal(" ") + joined + ibis.literal(" ")


def _tags(profile: ir.Table, tags: TagLibrary | None = None) -> ir.StringValue:
    """The true flag tags' ids and the band ids of band tags, in tag-library order."""
    pieces: list[ir.StringValue] = []
    for tag in (tags or load_tag_library()).tags:
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
        # a struct as JSON (escaped by the engine, nulls kept): DuckDB and Spark alike
        item = ibis.struct({"zh": text, "en": parts[0], "feature": parts[1]}).cast("json")
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
        # sorted list, then joined: Spark has no ordered group_concat
        e_policies=pairs.policy_id.collect().sort().join(" ")
    )
    return grouped.select(
        e_subscriber=grouped.subscriber_id,
        e_policies=ibis.literal(" ") + grouped.e_policies + ibis.literal(" "),
    )


def customer_rows(
    warehouse: Warehouse,
    profile: ir.Table,
    library: PolicyLibrary,
    snapshot: date,
    tags: TagLibrary | None = None,
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
    for column in table_of(CustomerView).columns:
        name = column.name
        if name == "branch_id":
            continue
        if name == "snapshot_date":
            value: ir.Value = ibis.literal(snapshot, "date")
        elif name == "reasons":
            value = _reasons(joined)
        elif name == "tags":
            value = _tags(joined, tags)
        elif name == "eligible_policies":
            value = joined.e_policies
        elif name in PII_COLUMNS or name in _SUBSCRIBER_SOURCE:
            source = f"s_{_SUBSCRIBER_SOURCE.get(name, name)}"
            value = joined[source] if source in joined.columns else null_of(column)
        else:
            value = joined[name] if name in joined.columns else null_of(column)
        columns[name] = typed(value, column)
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
    order = [c.name for c in table_of(CustomerView).columns]
    return joined.select(
        *[joined.b_id.name("branch_id") if c == "branch_id" else joined[c] for c in order]
    ).order_by("subscriber_id")
