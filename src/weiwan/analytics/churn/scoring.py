"""A snapshot scored in batches: the probabilities, risk bands and reasons of ``score_frame``,
with memory bounded by the batch instead of the population.

Risk bands are ranks within the whole snapshot, so they cannot come from one batch: a first pass
stores every probability, one ordered query finds the last row of the high and of the medium band
(``RiskCuts``), and the second pass bands each row against those cuts and explains the at-risk
ones. Ties in probability are ranked by subscriber, as ``score_frame`` ranks a frame sorted by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from weiwan.analytics.churn.models import prepare_features
from weiwan.analytics.churn.registry import ModelMeta
from weiwan.analytics.churn.training import ReasonScope, band_sizes, scored_rows
from weiwan.analytics.warehouse import BatchFn, Store

#: (probability, subscriber_id) of a band's last row in rank order
Cut = tuple[float, str]
_REASONS = [f"reason_{k}{suffix}" for k in (1, 2, 3) for suffix in ("", "_en", "_feature")]


@dataclass(frozen=True)
class RiskCuts:
    """The last row of the high and of the medium band; None for an empty band."""

    high: Cut | None
    medium: Cut | None


def bands_by_cuts(p: np.ndarray, ids: np.ndarray, cuts: RiskCuts) -> np.ndarray:
    """high / medium / low of each (probability, subscriber) against the snapshot's cuts."""
    bands = np.full(len(p), "low", dtype=object)
    for band, cut in (("medium", cuts.medium), ("high", cuts.high)):
        if cut is not None:
            ranked_before = (p > cut[0]) | ((p == cut[0]) & (ids.astype(str) <= cut[1]))
            bands[ranked_before] = band
    return bands


def risk_cuts(probabilities: ir.Table) -> RiskCuts:
    """The cuts of a snapshot's ``subscriber_id, churn_probability`` rows (one ordered pass)."""
    n = int(probabilities.count().execute())
    high, medium = band_sizes(n)
    ordered = probabilities.select("churn_probability", "subscriber_id").order_by(
        [ibis.desc("churn_probability"), "subscriber_id"]
    )

    def row(k: int) -> Cut | None:
        if k == 0:
            return None
        # the select drops the row number Ibis' PySpark backend adds to implement the offset
        kth = ordered.limit(1, offset=k - 1).select("churn_probability", "subscriber_id")
        found = kth.to_pyarrow().to_pylist()[0]
        return float(found["churn_probability"]), str(found["subscriber_id"])

    return RiskCuts(high=row(high), medium=row(medium))


def probability_schema(id_type: pa.DataType) -> pa.Schema:
    """subscriber_id, churn_probability."""
    return pa.schema([("subscriber_id", id_type), ("churn_probability", pa.float64())])


def score_schema(id_type: pa.DataType) -> pa.Schema:
    """The stored scores: probability, band, model version and the reasons (zh, en, feature)."""
    return pa.schema(
        [
            ("subscriber_id", id_type),
            ("snapshot_date", pa.date32()),
            ("churn_probability", pa.float64()),
            ("risk_band", pa.string()),
            ("model_version", pa.string()),
            *[(name, pa.string()) for name in _REASONS],
        ]
    )


def _probabilities(model: Any, meta: ModelMeta, batch: pa.RecordBatch) -> tuple[Any, Any, Any]:
    features = batch.to_pandas()
    x, _ = prepare_features(features[meta.features], categories=model.categories_)
    # the booster refuses an empty frame
    p = model.predict_proba(x)[:, 1] if len(x) else np.zeros(0)
    return features, x, p


def probability_batch(model: Any, meta: ModelMeta) -> BatchFn:
    """Features in, ``subscriber_id, churn_probability`` out (the first pass)."""

    def apply(batch: pa.RecordBatch) -> pa.RecordBatch:
        _, _, p = _probabilities(model, meta, batch)
        schema = probability_schema(batch.schema.field("subscriber_id").type)
        return pa.RecordBatch.from_arrays([batch["subscriber_id"], pa.array(p)], schema=schema)

    return apply


def score_batch(model: Any, meta: ModelMeta, reasons_for: ReasonScope, cuts: RiskCuts) -> BatchFn:
    """Features with the first pass's ``churn_probability`` in, scores out: the rows
    ``score_frame`` gives them, banded by the snapshot's ``cuts`` and explained (TreeSHAP)
    within ``reasons_for``; the model does not predict a second time."""

    def apply(batch: pa.RecordBatch) -> pa.RecordBatch:
        features = batch.to_pandas()
        p = features.pop("churn_probability").to_numpy(dtype=float)
        x, _ = prepare_features(features[meta.features], categories=model.categories_)
        bands = bands_by_cuts(p, features["subscriber_id"].to_numpy(), cuts)
        scored = scored_rows(model, meta, features, x, p, bands, reasons_for=reasons_for)
        schema = score_schema(batch.schema.field("subscriber_id").type)
        return pa.RecordBatch.from_pandas(scored, schema=schema, preserve_index=False)

    return apply


def score_in_batches(
    store: Store,
    features: ir.Table,
    model: Any,
    meta: ModelMeta,
    *,
    reasons_for: ReasonScope = "at_risk",
    batch_rows: int = 100_000,
) -> ir.Table:
    """The scores of one snapshot's ``features``, computed ``batch_rows`` at a time."""
    id_type = features.schema().to_pyarrow().field("subscriber_id").type
    inputs = features.select("subscriber_id", "snapshot_date", *meta.features)
    probabilities = store.map_batches(
        inputs.select("subscriber_id", *meta.features),
        probability_batch(model, meta),
        probability_schema(id_type),
        batch_rows=batch_rows,
    )
    cuts = risk_cuts(probabilities)
    return store.map_batches(
        inputs.join(probabilities, "subscriber_id"),
        score_batch(model, meta, reasons_for, cuts),
        score_schema(id_type),
        batch_rows=batch_rows,
    )
