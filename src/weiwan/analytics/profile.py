"""The customer profile (360度客户画像) of a snapshot: features ⨝ tags ⨝ segments ⨝ CLV.

The pipeline stores each part per snapshot and then the joined profile, the table target
filters run over.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import ibis
import ibis.expr.types as ir
import pandas as pd

from weiwan.analytics.warehouse import EVERYONE, Store, SubscriberRange

#: stored result tables joined into the profile, in order
PROFILE_PARTS = ("features", "tags", "segments", "clv", "scores")
KEYS = ("subscriber_id", "snapshot_date")


def snapshot_rows(warehouse: Store, name: str, snapshot: date) -> ir.Table:
    """One stored result table restricted to one snapshot."""
    table = warehouse.table(name)
    return table.filter(table.snapshot_date == snapshot)


def subscriber_features(
    profile: ir.Table, subscriber_ids: pd.Series, names: Sequence[str]
) -> pd.DataFrame:
    """The ``names`` columns of ``profile`` for ``subscriber_ids``, indexed by subscriber_id
    (text); a column the profile lacks is NaN (unknown, as in training), one not found there
    has no row. Only those subscribers' rows leave the store."""
    wanted = ibis.memtable(subscriber_ids.drop_duplicates().astype(str).to_frame("subscriber_id"))
    rows = profile.mutate(subscriber_id=profile.subscriber_id.cast("string"))
    present = [name for name in names if name in profile.columns]
    found = rows.semi_join(wanted, "subscriber_id").select("subscriber_id", *present)
    frame: pd.DataFrame = found.to_pandas().set_index("subscriber_id")
    return frame.reindex(columns=list(names))


def join_profile(parts: list[ir.Table]) -> ir.Table:
    """Left-join result tables on the subscriber; a column already present is kept once."""
    profile = parts[0]
    for part in parts[1:]:
        new = [c for c in part.columns if c not in profile.columns]
        profile = profile.left_join(part.select("subscriber_id", *new), "subscriber_id").drop(
            "subscriber_id_right"
        )
    return profile


def build_profile(
    warehouse: Store, snapshot: date, *, within: SubscriberRange = EVERYONE
) -> ir.Table:
    """Join the stored parts of ``snapshot`` into one row per subscriber (of those ``within``
    a range)."""
    parts = [
        within.rows(snapshot_rows(warehouse, name, snapshot))
        for name in PROFILE_PARTS
        if warehouse.has_table(name)
    ]
    if not parts:
        raise LookupError(f"no pipeline results for {snapshot}: run `weiwan pipeline run`")
    return join_profile(parts)


def load_profile(warehouse: Store, snapshot: date) -> ir.Table:
    """The stored profile of ``snapshot`` (one wide table, so a filter preview is one scan)."""
    if not warehouse.has_table("profile"):
        raise LookupError(f"no profile for {snapshot}: run `weiwan pipeline run`")
    return snapshot_rows(warehouse, "profile", snapshot)
