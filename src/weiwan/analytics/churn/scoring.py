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
#: the likeliest leaving reason, its probability and every reason's, given with the reasons
#: (NULL otherwise)
_LEAVING = (
    ("leaving_reason", pa.string()),
    ("leaving_reason_share", pa.float64()),
    ("leaving_mix", pa.string()),
)


@dataclass(frozen=True)
class RiskCuts:
    """The last row of the high and of the medium band; None for an empty band."""

    high: Cut | None
    medium: Cut | None


def risk_band(probability: ir.FloatingValue, subscriber_id: ir.Value, cuts: RiskCuts) -> ir.Value:
    """high / medium / low of each row against the snapshot's cuts, in the store: ranked at or
    before a band's last row (by probability, then subscriber) puts a row in that band."""
    sid = subscriber_id.cast("string")

    def ranked_before(cut: Cut) -> ir.BooleanValue:
        # typed literal: a bare decimal literal could compare as DECIMAL and miss the tie
        p = ibis.literal(cut[0], type="float64")
        return (probability > p) | ((probability == p) & (sid <= ibis.literal(cut[1])))

    cases = [
        (ranked_before(cut), band)
        for band, cut in (("high", cuts.high), ("medium", cuts.medium))
        if cut is not None
    ]
    return ibis.cases(*cases, else_="low") if cases else ibis.literal("low")


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
            *_LEAVING,
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


def explain_batch(model: Any, meta: ModelMeta) -> BatchFn:
    """Features with the first pass's ``churn_probability`` and the ``risk_band`` in, scores
    with their reasons (TreeSHAP) out: the rows ``score_frame`` gives them; the model does not
    predict a second time."""

    def apply(batch: pa.RecordBatch) -> pa.RecordBatch:
        features = batch.to_pandas()
        p = features.pop("churn_probability").to_numpy(dtype=float)
        bands = features.pop("risk_band").to_numpy(dtype=object)
        x, _ = prepare_features(features[meta.features], categories=model.categories_)
        scored = scored_rows(model, meta, features, x, p, bands, reasons_for="all")
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
    """The scores of one snapshot's ``features``, computed ``batch_rows`` at a time.

    The risk bands are set in the store; only the rows that get reasons (the at-risk 20 % by
    default) go through Python the second time, the others are stored with blank reasons
    straight from the first pass's probabilities."""
    id_type = features.schema().to_pyarrow().field("subscriber_id").type
    inputs = features.select("subscriber_id", "snapshot_date", *meta.features)
    probabilities = store.map_batches(
        inputs.select("subscriber_id", *meta.features),
        probability_batch(model, meta),
        probability_schema(id_type),
        batch_rows=batch_rows,
    )
    cuts = risk_cuts(probabilities)
    joined = inputs.join(probabilities, "subscriber_id")
    banded = joined.mutate(
        risk_band=risk_band(joined.churn_probability, joined.subscriber_id, cuts)
    )
    explained = {
        "all": ibis.literal(True),
        "at_risk": banded.risk_band != "low",
        "none": ibis.literal(False),
    }[reasons_for]
    schema = score_schema(id_type)
    unexplained = banded.filter(~explained)
    blank = unexplained.select(
        "subscriber_id",
        "snapshot_date",
        "churn_probability",
        "risk_band",
        model_version=ibis.literal(meta.version, type="string"),
        **{name: ibis.null("string") for name in _REASONS},
        **{name: ibis.null(ibis.dtype(kind)) for name, kind in _LEAVING},
    )
    if reasons_for == "none":
        return blank
    reasoned = store.map_batches(
        banded.filter(explained), explain_batch(model, meta), schema, batch_rows=batch_rows
    )
    return reasoned.union(blank.cast(reasoned.schema()))
