"""Population stability index (PSI, 群体稳定性指数) between training data and today.

The reference is stored with the model: for each numeric feature its training decile edges and
shares, for each categorical feature the shares of its levels, and the same for the score.
PSI = Σ (today − train) × ln(today / train) over the bins; above 0.2 the population has moved
enough that the model's figures no longer describe it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

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


def _numeric_shares(values: pd.Series, edges: list[float]) -> np.ndarray:
    numbers = values.astype(float).to_numpy()
    missing = np.isnan(numbers)
    index = np.searchsorted(np.asarray(edges), numbers[~missing], side="right")
    counts = np.bincount(index, minlength=len(edges) + 1).astype(float)
    return np.append(counts, missing.sum()) / max(len(numbers), 1)


def _category_shares(values: pd.Series, levels: list[str]) -> np.ndarray:
    text = values.astype("object").where(values.notna(), _MISSING).astype(str)
    known = text.where(text.isin(levels), _OTHER)
    counts = known.value_counts()
    return np.array([counts.get(level, 0) for level in [*levels, _OTHER]], float) / max(
        len(text), 1
    )


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
    rows = []
    for name, spec in ref.items():
        if name == SCORE:
            values = pd.Series(scores)
        elif name in frame.columns:
            values = frame[name]
        else:
            continue
        if spec["kind"] == "numeric":
            shares = _numeric_shares(values, spec["edges"])
        else:
            shares = _category_shares(values, spec["levels"])
        value = psi(np.asarray(spec["shares"]), shares)
        rows.append({"feature": "score" if name == SCORE else name, "psi": value,
                     "warning": value > WARN_ABOVE})  # fmt: skip
    return pd.DataFrame(rows, columns=["feature", "psi", "warning"])
