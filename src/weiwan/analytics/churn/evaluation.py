"""The evaluation of a trained churn model, as stored next to it in the registry.

``evaluation.json`` and the HTML reports (zh-CN and English) hold the hold-out comparison of
the default with the two baselines, and the tenure model's check against what happened after
an earlier snapshot: concordance index and P(leave within 3 / 6 months) against the
observed share.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from weiwan.analytics.churn.labels import labelled_snapshots
from weiwan.analytics.churn.registry import ModelRegistry
from weiwan.analytics.churn.report import write_report
from weiwan.analytics.churn.survival import DAYS_PER_MONTH, LEAVE_WITHIN_MONTHS
from weiwan.analytics.churn.tenure import fit_tenure_model, history_start
from weiwan.analytics.churn.training import (
    HISTORY_MONTHS,
    TrainingConfig,
    TrainingResult,
    last_data_day,
    subscriber_sample,
    train_on_warehouse,
)
from weiwan.analytics.features import as_of_rows, compute_features
from weiwan.analytics.warehouse import Store, TableSource
from weiwan.core.months import add_months, month_end

FOLLOW_UP_MONTHS = (6, 3, 1)  # the longest follow-up the history allows is used


def _evaluation_snapshot(warehouse: Store, last_day: date) -> tuple[date, int] | None:
    enough = month_end(add_months(history_start(warehouse, last_day), HISTORY_MONTHS - 1))
    for months in FOLLOW_UP_MONTHS:
        snapshot = labelled_snapshots(last_day, horizon_months=months, count=1)[0]
        if snapshot >= enough:
            return snapshot, months
    return None


def survival_evaluation(
    warehouse: Store, last_day: date, source: TableSource | None = None
) -> dict[str, Any] | None:
    """Fit the tenure model as of an earlier snapshot and check it on what happened after.

    The snapshot is the latest month end with 6 (else 3, else 1) months of follow-up. The
    concordance index compares the predicted expected remaining tenure with the observed time
    to churn (censored at ``last_day``); 0.5 is chance, 1 a perfect ordering. With ``source``
    (the training's subscriber sample) the fit and the check use only its subscribers.
    """
    sampled = source if source is not None else warehouse
    from lifelines.utils import concordance_index

    chosen = _evaluation_snapshot(warehouse, last_day)
    if chosen is None:
        return None
    snapshot, follow_up = chosen
    model = fit_tenure_model(sampled, snapshot)
    if model is None:
        return None
    active = compute_features(sampled, snapshot)
    frame = active.select("subscriber_id", "tenure_months", *model.covariates).to_pandas()
    churns = as_of_rows(warehouse, "churn_records", last_day)
    after = churns.filter((churns.churn_date > snapshot) & (churns.churn_date <= last_day))
    first = after.group_by("subscriber_id").aggregate(churn_date=after.churn_date.min())
    left: pd.Series = first.to_pandas().set_index("subscriber_id")["churn_date"]
    churn_date = pd.to_datetime(frame["subscriber_id"].map(left))
    event = churn_date.notna().to_numpy()
    end = churn_date.fillna(pd.Timestamp(last_day))
    observed = ((end - pd.Timestamp(snapshot)).dt.days / DAYS_PER_MONTH).to_numpy(np.float64)
    expected = model.expected_remaining_months(frame)
    out: dict[str, Any] = {
        "snapshot": snapshot.isoformat(),
        "follow_up_months": follow_up,
        "rows": len(frame),
        "churners": int(event.sum()),
        "covariates": list(model.covariates),
        "horizon_months": model.horizon_months,
        "weibull_shape": model.rho_,
        "concordance_index": float(concordance_index(observed, expected, event))
        if 0 < event.sum() < len(event)
        else None,
        "mean_expected_remaining_months": float(np.mean(expected)),
    }
    for months in LEAVE_WITHIN_MONTHS:
        out[f"mean_p_leave_{months}m"] = float(np.mean(model.leave_probability(frame, months)))
        seen = event & (observed <= months)
        out[f"observed_leave_{months}m"] = float(seen.mean()) if follow_up >= months else None
    return out


def evaluation_document(
    result: TrainingResult, survival: dict[str, Any] | None, *, version: str = ""
) -> dict[str, Any]:
    """The JSON-able evaluation the report renders (see :mod:`weiwan.analytics.churn.report`)."""
    meta = result.meta
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": {
            "version": version or meta.version,
            "kind": meta.kind,
            "horizon_months": meta.horizon_months,
            "include_involuntary": meta.include_involuntary,
            "training_snapshots": meta.training_snapshots,
            "holdout_snapshot": meta.holdout_snapshot,
            "training_rows": meta.training_rows,
            "sample": meta.extra.get("sample"),
            "leaving_reasons": meta.extra.get("leaving_reasons"),
            "features": meta.features,
            "data_fingerprint": meta.data_fingerprint,
        },
        "holdout": result.holdout,
        "emp_parameters": result.emp_parameters,
        "models": result.evaluation,
        "survival": survival,
    }


def train_and_register(
    warehouse: Store,
    registry: ModelRegistry,
    config: TrainingConfig | None = None,
    *,
    promote: bool = False,
    force: bool = False,
) -> tuple[str, TrainingResult, dict[str, Path]]:
    """Train on the warehouse, register the model with its evaluation and reports, and
    optionally promote it. Returns the version, the result and the report files.

    A model whose hold-out AUC is too low is registered but not promoted unless ``force``:
    :class:`~weiwan.analytics.churn.registry.WeakModelError` (raised after registering)."""
    config = config or TrainingConfig()
    result = train_on_warehouse(warehouse, config)
    source, _ = subscriber_sample(warehouse, config)
    survival = survival_evaluation(warehouse, last_data_day(warehouse), source)
    result.meta.extra["survival"] = survival
    version = registry.register(result.model, result.meta)
    document = evaluation_document(result, survival, version=version)
    files = asdict(write_report(document, registry.folder(version)))
    if promote:
        registry.promote(version, force=force)
    return version, result, files
