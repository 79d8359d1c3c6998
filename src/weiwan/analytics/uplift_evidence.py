"""The evidence the uplift is learned from: closed decisions and earlier campaigns in an arm,
with each customer's features and churn score on the day of the offer (or of the hold-out)."""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis
import numpy as np
import pandas as pd

from weiwan.analytics.churn.models import prepare_features
from weiwan.analytics.churn.reasons import top_reason_features
from weiwan.analytics.churn.registry import ModelMeta
from weiwan.analytics.churn.training import chosen_source
from weiwan.analytics.features import compute_features
from weiwan.analytics.outcomes import OUTCOME_COLUMNS, campaign_outcomes
from weiwan.analytics.uplift import EXPERIMENT, MAX_ROWS_PER_ARM
from weiwan.analytics.warehouse import Store
from weiwan.core.offer_valuation import REASON_COLUMNS


def closed_outcomes(wh: Store, snapshot: date) -> pd.DataFrame:
    """Every closed outcome before ``snapshot`` in :data:`OUTCOME_COLUMNS` and its
    :data:`EXPERIMENT`: weiwan's own decisions (``retention_outcomes``) and the delivered
    earlier campaigns; per arm (offered / held out) the :data:`MAX_ROWS_PER_ARM` most recent."""
    parts: list[pd.DataFrame] = []
    if wh.has_table("retention_outcomes"):
        own = wh.table("retention_outcomes")
        rows = own.filter(own.snapshot_date < snapshot).select(*OUTCOME_COLUMNS).to_pandas()
        parts.append(rows.assign(**{EXPERIMENT: "decisions:" + rows["snapshot_date"].astype(str)}))
    delivered = campaign_outcomes(wh, snapshot)
    if delivered is not None:
        rows = delivered.to_pandas()
        parts.append(rows.assign(**{EXPERIMENT: "campaign:" + rows["snapshot_date"].astype(str)}))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=[*OUTCOME_COLUMNS, EXPERIMENT])
    rows = pd.concat(parts, ignore_index=True)
    rows["snapshot_date"] = pd.to_datetime(rows["snapshot_date"]).dt.date
    rows = rows.sort_values(["snapshot_date", "subscriber_id"], ascending=[False, True])
    rows = rows.groupby("treated", group_keys=False).head(MAX_ROWS_PER_ARM)
    return rows.reset_index(drop=True)


def uplift_evidence(
    wh: Store, snapshot: date, model: Any, meta: ModelMeta
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(outcome rows with ``score`` and ``reason_feature``, their features) for :func:`~weiwan.
    analytics.uplift.learn_uplift`: each row's features as of its day (stored by that day's
    run, else computed for its customers only) scored and explained by the current churn
    model. None without closed outcomes."""
    rows = closed_outcomes(wh, snapshot)
    if rows.empty:
        return None
    stored = _stored_days(wh)
    evidence: list[pd.DataFrame] = []
    features: list[pd.DataFrame] = []
    for key, group in rows.groupby("snapshot_date", sort=True):
        day = pd.Timestamp(str(key)).date()
        ids = ibis.memtable(group[["subscriber_id"]].drop_duplicates())
        if day in stored:
            table = wh.table("features")
            feats = table.filter(table.snapshot_date == day).semi_join(ids, "subscriber_id")
        else:
            feats = compute_features(chosen_source(wh, ids), day)
        frame = feats.to_pandas().drop(columns=["snapshot_date"], errors="ignore")
        joined = group.merge(frame, on="subscriber_id", how="inner")
        if joined.empty:
            continue
        evidence.append(joined[[*OUTCOME_COLUMNS, EXPERIMENT]])
        features.append(joined[meta.features])
    if not evidence:
        return None
    ev = pd.concat(evidence, ignore_index=True)
    x = pd.concat(features, ignore_index=True)
    prepared, _ = prepare_features(x, categories=model.categories_)
    ev["score"] = np.asarray(model.predict_proba(prepared)[:, 1], float)
    # the day's churn reasons, as the scoring gives them, name the churn drivers (their
    # features only: the sentences are for people)
    reasons = top_reason_features(model.contributions(prepared), meta.features)
    for column, features_of in zip(REASON_COLUMNS, reasons, strict=True):
        ev[column] = features_of
    return ev, x


def _stored_days(wh: Store) -> set[date]:
    if not wh.has_table("features"):
        return set()
    days = wh.table("features").select("snapshot_date").distinct().to_pandas()
    return {pd.Timestamp(d).date() for d in days["snapshot_date"]}
