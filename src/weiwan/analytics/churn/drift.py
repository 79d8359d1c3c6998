"""Population stability index (PSI, 群体稳定性指数) between training data and today.

The reference is stored with the model: for each numeric feature its training decile edges and
shares, for each categorical feature the shares of its levels, and the same for the score.
PSI = Σ (today − train) × ln(today / train) over the bins; above 0.2 the population has moved
enough that the model's figures no longer describe it.
"""

from __future__ import annotations

from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from weiwan.analytics.warehouse import BatchFn, Store

WARN_ABOVE = 0.2
SCORE = "__score__"
_EPS = 1e-4
_MISSING = "__missing__"
_OTHER = "__other__"


def _numeric_bins(values: pd.Series, bins: int) -> dict[str, Any]:
    clean = values.dropna().astype(float)
    if clean.empty:
        return {"kind": "numeric", "edges": []}
    edges = np.unique(np.quantile(clean, np.linspace(0, 1, bins + 1)[1:-1]))
    return {"kind": "numeric", "edges": [float(e) for e in edges]}


def _numeric_counts(values: pd.Series, edges: list[float]) -> np.ndarray:
    numbers = values.astype(float).to_numpy()
    missing = np.isnan(numbers)
    index = np.searchsorted(np.asarray(edges), numbers[~missing], side="right")
    counts = np.bincount(index, minlength=len(edges) + 1)
    return np.append(counts, missing.sum()).astype(np.int64)


def _numeric_shares(values: pd.Series, edges: list[float]) -> np.ndarray:
    return _numeric_counts(values, edges).astype(float) / max(len(values), 1)


def _category_counts(values: pd.Series, levels: list[str]) -> np.ndarray:
    text = values.astype("object").where(values.notna(), _MISSING).astype(str)
    known = text.where(text.isin(levels), _OTHER)
    counts = known.value_counts()
    return np.array([counts.get(level, 0) for level in [*levels, _OTHER]], np.int64)


def _category_shares(values: pd.Series, levels: list[str]) -> np.ndarray:
    return _category_counts(values, levels).astype(float) / max(len(values), 1)


def reference(frame: pd.DataFrame, scores: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """The training distribution of every column of ``frame`` and of the scores (JSON-ready)."""
    ref: dict[str, Any] = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            spec = _numeric_bins(column, bins)
            spec["shares"] = _numeric_shares(column, spec["edges"]).tolist()
        else:
            text = column.astype("object").where(column.notna(), _MISSING).astype(str)
            levels = text.value_counts().head(30).index.tolist()
            spec = {"kind": "category", "levels": levels}
            spec["shares"] = _category_shares(column, levels).tolist()
        ref[name] = spec
    score_spec = _numeric_bins(pd.Series(scores), bins)
    score_spec["shares"] = _numeric_shares(pd.Series(scores), score_spec["edges"]).tolist()
    ref[SCORE] = score_spec
    return ref


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI between two share vectors over the same bins."""
    e = np.clip(np.asarray(expected, float), _EPS, None)
    a = np.clip(np.asarray(actual, float), _EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def drift(ref: dict[str, Any], frame: pd.DataFrame, scores: np.ndarray) -> pd.DataFrame:
    """feature, psi, warning (psi > 0.2) for every referenced feature and the score."""
    return drift_from_counts(ref, bin_counts(ref, frame, scores), len(frame))


def bin_counts(ref: dict[str, Any], frame: pd.DataFrame, scores: Any) -> dict[str, np.ndarray]:
    """How many rows of ``frame`` (and of ``scores``) fall in each referenced bin: counts of
    batches add up to the counts of the whole."""
    counts: dict[str, np.ndarray] = {}
    for name, spec in ref.items():
        if name == SCORE:
            values = pd.Series(scores)
        elif name in frame.columns:
            values = frame[name]
        else:
            continue
        if spec["kind"] == "numeric":
            counts[name] = _numeric_counts(values, spec["edges"])
        else:
            counts[name] = _category_counts(values, spec["levels"])
    return counts


def drift_from_counts(
    ref: dict[str, Any], counts: dict[str, np.ndarray], rows: int
) -> pd.DataFrame:
    """feature, psi, warning from the bin ``counts`` of ``rows`` rows (see ``bin_counts``)."""
    out = []
    for name, spec in ref.items():
        if name not in counts:
            continue
        shares = np.asarray(counts[name]).astype(float) / max(rows, 1)
        value = psi(np.asarray(spec["shares"]), shares)
        out.append({"feature": "score" if name == SCORE else name, "psi": value,
                    "warning": value > WARN_ABOVE})  # fmt: skip
    return pd.DataFrame(out, columns=["feature", "psi", "warning"])


#: the rows ``count_batch`` gives: a bin's count of one batch
COUNT_SCHEMA = pa.schema([("name", pa.string()), ("bin", pa.int64()), ("rows", pa.int64())])


def count_batch(ref: dict[str, Any], features: list[str]) -> BatchFn:
    """``features`` and ``churn_probability`` in, the batch's ``bin_counts`` out as
    (name, bin, rows); summed over batches they give the whole population's."""

    def apply(batch: pa.RecordBatch) -> pa.RecordBatch:
        frame = batch.to_pandas()
        counts = bin_counts(ref, frame[features], frame["churn_probability"].to_numpy())
        names = [name for name, bins in counts.items() for _ in bins]
        bins = [index for values in counts.values() for index in range(len(values))]
        rows = np.concatenate([*counts.values(), np.zeros(0, np.int64)])
        return pa.RecordBatch.from_arrays(
            [pa.array(names, pa.string()), pa.array(bins, pa.int64()), pa.array(rows)],
            schema=COUNT_SCHEMA,
        )

    return apply


def drift_in_batches(
    store: Store, ref: dict[str, Any], rows: ir.Table, features: list[str], batch_rows: int
) -> pd.DataFrame:
    """``drift`` of ``rows`` (``features`` and ``churn_probability``), counted in batches of
    ``batch_rows``: only the bin counts are ever in memory."""
    counted = store.map_batches(
        rows.select(*features, "churn_probability"),
        count_batch(ref, features),
        COUNT_SCHEMA,
        batch_rows=batch_rows,
    )
    summed = counted.group_by(["name", "bin"]).aggregate(rows=counted.rows.sum()).to_pandas()
    counts: dict[str, np.ndarray] = {}
    for name, spec in ref.items():
        width = len(spec["edges"]) + 2 if spec["kind"] == "numeric" else len(spec["levels"]) + 1
        mine = summed[summed["name"] == name]
        if name != SCORE and name not in features:
            continue
        counts[name] = np.zeros(width, np.int64)
        counts[name][mine["bin"].to_numpy(int)] = mine["rows"].to_numpy(np.int64)
    return drift_from_counts(ref, counts, int(rows.count().execute()))
