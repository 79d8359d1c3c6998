"""The evidence the uplift is learned from: closed decisions and earlier campaigns in an arm,
with each customer's features and churn score on the day of the offer (or of the hold-out)."""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from weiwan.analytics.churn.models import prepare_features
from weiwan.analytics.churn.reasons import top_reason_features
from weiwan.analytics.churn.registry import ModelMeta
from weiwan.analytics.churn.training import chosen_source
from weiwan.analytics.features import (
    RETENTION_OFFER_FEATURES,
    ZERO_WHEN_ABSENT,
    compute_features,
    retention_offer_features,
)
from weiwan.analytics.outcomes import (
    HORIZON_MONTHS,
    OUTCOME_COLUMNS,
    campaign_outcomes,
    retention_outcomes,
)
from weiwan.analytics.uplift import EXPERIMENT, MAX_ROWS_PER_ARM
from weiwan.analytics.warehouse import Store
from weiwan.core.offer_valuation import REASON_COLUMNS


def closed_outcomes(
    wh: Store, snapshot: date, horizon_months: int = HORIZON_MONTHS
) -> pd.DataFrame:
    """Every outcome before ``snapshot`` whose window of ``horizon_months`` has closed, in
    :data:`OUTCOME_COLUMNS` and its :data:`EXPERIMENT`: weiwan's own decisions (the stored
    ``retention_outcomes`` for the usual window, else made for this one) and the delivered
    earlier campaigns; per arm (offered / held out) the :data:`MAX_ROWS_PER_ARM` most recent."""
    parts: list[pd.DataFrame] = []
    own: ir.Table | None = None
    if horizon_months == HORIZON_MONTHS and wh.has_table("retention_outcomes"):
        own = wh.table("retention_outcomes")
    elif wh.has_table("decisions") and wh.has_table("ops_contacts"):
        own = retention_outcomes(wh, snapshot, horizon_months=horizon_months)
    if own is not None:
        # a table written before the first month was told apart lacks it (its rows then
        # teach no persistence: analytics.uplift)
        columns = [c for c in OUTCOME_COLUMNS if c in own.columns]
        rows = own.filter(own.snapshot_date < snapshot).select(*columns).to_pandas()
        parts.append(rows.assign(**{EXPERIMENT: "decisions:" + rows["snapshot_date"].astype(str)}))
    delivered = campaign_outcomes(wh, snapshot, horizon_months=horizon_months)
    if delivered is not None:
        rows = delivered.to_pandas()
        parts.append(rows.assign(**{EXPERIMENT: "campaign:" + rows["snapshot_date"].astype(str)}))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=[*OUTCOME_COLUMNS, EXPERIMENT])
    rows = pd.concat(parts, ignore_index=True).reindex(columns=[*OUTCOME_COLUMNS, EXPERIMENT])
    rows["snapshot_date"] = pd.to_datetime(rows["snapshot_date"]).dt.date
    rows = rows.sort_values(["snapshot_date", "subscriber_id"], ascending=[False, True])
    rows = rows.groupby("treated", group_keys=False).head(MAX_ROWS_PER_ARM)
    return rows.reset_index(drop=True)


#: each evidence day's rows as the promoted churn model sees them (model-ready features, score,
#: reasons), one partition per day: a past day's never change, so the daily run computes only
#: the days new to the evidence — or all of them once after a new model is promoted (at 1 M
#: subscribers scoring and explaining ~200 k evidence rows took ~20 s of the daily run)
EVIDENCE_TABLE = "uplift_evidence"
#: how the stored rows were made, part of their key: a day stored another way is made again
#: ("before-offers": the retention-offer features as before the day's own offers)
EVIDENCE_LAYOUT = "before-offers"
#: the stored features' prefix (a feature may be named like one of the table's own columns)
FEATURE_PREFIX = "x__"


def evidence_key(meta: ModelMeta) -> str:
    """The key of the stored evidence rows a model explained (``model`` column)."""
    return f"{meta.version}@{meta.created_at}/{EVIDENCE_LAYOUT}"


def uplift_evidence(
    wh: Store, rows: pd.DataFrame, model: Any, meta: ModelMeta
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(outcome rows with ``score`` and the reasons' features, their model-ready features) for
    :func:`~weiwan.analytics.uplift.learn_uplift`, of the closed outcomes ``rows``
    (:func:`closed_outcomes`): each row's features as of its day (stored by that day's run,
    else computed for its customers only) scored and explained by the current churn model,
    kept in :data:`EVIDENCE_TABLE` for the next days. None without outcomes."""
    if rows.empty:
        return None
    key = evidence_key(meta)
    days = sorted(set(rows["snapshot_date"]))
    cached = _cached_days(wh, key, days)
    stored = _stored_days(wh)
    evidence: list[pd.DataFrame] = []
    features: list[pd.DataFrame] = []
    for value, group in rows.groupby("snapshot_date", sort=True):
        day = pd.Timestamp(str(value)).date()
        ids = group["subscriber_id"].drop_duplicates()
        frame = cached.get(day)
        if frame is None or not ids.isin(frame["subscriber_id"]).all():
            frame = _explained_day(wh, day, ids, day in stored, model, meta)
            _keep_day(wh, day, key, frame, model, meta)
        joined = group.merge(frame[frame["found"]], on="subscriber_id", how="inner")
        if joined.empty:
            continue
        evidence.append(joined[[*OUTCOME_COLUMNS, EXPERIMENT, "score", *REASON_COLUMNS]])
        features.append(joined[[FEATURE_PREFIX + f for f in meta.features]])
    _forget_other_days(wh, days)
    if not evidence:
        return None
    ev = pd.concat(evidence, ignore_index=True)
    x = pd.concat(features, ignore_index=True)
    x.columns = list(meta.features)
    return ev, x


def _explained_day(
    wh: Store, day: date, ids: pd.Series, stored: bool, model: Any, meta: ModelMeta
) -> pd.DataFrame:
    """One day's evidence customers ``ids``: ``found`` (features that day), the model-ready
    features (prefixed; categories as text), the churn ``score`` and the reasons' features."""
    wanted = ibis.memtable(ids.to_frame())
    if stored:
        table = wh.table("features")
        feats = table.filter(table.snapshot_date == day).semi_join(wanted, "subscriber_id")
    else:
        feats = compute_features(chosen_source(wh, wanted), day)
    frame = feats.to_pandas().drop_duplicates("subscriber_id")
    frame = _before_the_offers(wh, day, frame[frame["subscriber_id"].isin(ids)])
    absent = pd.DataFrame({"subscriber_id": ids[~ids.isin(frame["subscriber_id"])], "found": False})
    if frame.empty:
        return absent.reset_index(drop=True)
    prepared, _ = prepare_features(frame[meta.features], categories=model.categories_)
    out = pd.DataFrame({"subscriber_id": frame["subscriber_id"], "found": True})
    out["score"] = np.asarray(model.predict_proba(prepared)[:, 1], float)
    # the day's churn reasons, as the scoring gives them, name the churn drivers (their
    # features only: the sentences are for people)
    reasons = top_reason_features(model.contributions(prepared), meta.features)
    for column, features_of in zip(REASON_COLUMNS, reasons, strict=True):
        out[column] = features_of
    for name in meta.features:
        values = prepared[name]  # categories as text, so that every day's rows are alike
        if name in model.categories_:  # plain text, None for a blank, as a stored day reads
            text = [None if pd.isna(v) else str(v) for v in values]
            values = pd.Series(text, index=values.index, dtype=object)
        out[FEATURE_PREFIX + name] = values
    return pd.concat([out, absent], ignore_index=True)


def _before_the_offers(wh: Store, day: date, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (one day's features) with the retention-offer features as they were before
    that day's offers: a campaign's contacts are dated the day its evidence is taken, and a
    customer seen already offered would be scored as one (higher: earlier campaigns chose the
    riskiest), unlike the held-out customers beside them — the comparison of the two would
    measure the score, not the offer (50 k operator: mean score offered 0.075, held out
    0.061, where the draw made them alike)."""
    frame = frame.reset_index(drop=True)
    columns = [c for c in RETENTION_OFFER_FEATURES if c in frame.columns]
    if not columns or frame.empty or not wh.has_table("retention_contacts"):
        return frame
    wanted = ibis.memtable(frame[["subscriber_id"]])
    before = (
        retention_offer_features(wh, day, before_the_day=True)
        .semi_join(wanted, "subscriber_id")
        .to_pandas()
        .set_index("subscriber_id")
    )
    for column in columns:
        values = frame["subscriber_id"].map(before[column])
        if column in ZERO_WHEN_ABSENT:
            values = values.fillna(0)
        frame[column] = values.astype(frame[column].dtype) if values.notna().all() else values
    return frame


def _schema(meta: ModelMeta, categories: dict[str, list[str]]) -> pa.Schema:
    fields = [
        pa.field("snapshot_date", pa.date32()),
        pa.field("subscriber_id", pa.string()),
        pa.field("model", pa.string()),
        pa.field("found", pa.bool_()),
        pa.field("score", pa.float64()),
        *(pa.field(c, pa.string()) for c in REASON_COLUMNS),
    ]
    for name in meta.features:
        kind = pa.string() if name in categories else pa.float64()
        fields.append(pa.field(FEATURE_PREFIX + name, kind))
    return pa.schema(fields)


def _keep_day(
    wh: Store, day: date, key: str, frame: pd.DataFrame, model: Any, meta: ModelMeta
) -> None:
    """Store one day's explained evidence as that day's partition of :data:`EVIDENCE_TABLE`."""
    schema = _schema(meta, model.categories_)
    rows = frame.assign(snapshot_date=day, model=key)
    table = pa.Table.from_pandas(rows[schema.names], schema=schema, preserve_index=False)
    wh.replace_snapshot(EVIDENCE_TABLE, wh.from_batches(table.to_batches(), schema), day)


def _cached_days(wh: Store, key: str, days: list[date]) -> dict[date, pd.DataFrame]:
    """The stored evidence of ``days`` explained by the model ``key``, per day."""
    if not wh.has_table(EVIDENCE_TABLE):
        return {}
    table = wh.table(EVIDENCE_TABLE)
    rows = table.filter((table.model == key) & table.snapshot_date.isin(days)).to_pandas()
    rows["snapshot_date"] = pd.to_datetime(rows["snapshot_date"]).dt.date
    return {
        day: part.drop(columns=["snapshot_date", "model"]).reset_index(drop=True)
        for day, part in rows.groupby("snapshot_date")
    }


def _forget_other_days(wh: Store, days: list[date]) -> None:
    """Drop the stored evidence of days no longer in the evidence (it is bounded by
    :data:`MAX_ROWS_PER_ARM`, the table by it too)."""
    if not wh.has_table(EVIDENCE_TABLE):
        return
    kept = wh.table(EVIDENCE_TABLE).select("snapshot_date").distinct().to_pandas()
    for value in kept["snapshot_date"]:
        day = pd.Timestamp(value).date()
        if day not in days:
            wh.drop_snapshot(EVIDENCE_TABLE, day)


def _stored_days(wh: Store) -> set[date]:
    if not wh.has_table("features"):
        return set()
    days = wh.table("features").select("snapshot_date").distinct().to_pandas()
    return {pd.Timestamp(d).date() for d in days["snapshot_date"]}
