"""Uplift learned from recorded outcomes: what an offer really changes, treated vs hold-out.

Two-model (T-learner) estimator per offer type: one churn model on the treated, one on the
held-out customers of the same decisions; the relative uplift is 1 − mean P(churn | treated)
/ mean P(churn | held out), both predicted for the treated customers (the effect on those the
offers went to). Offer types with too few customers or churners in either arm keep their
prior. The inputs are outcomes the operational side records and publishes to the warehouse
(``retention_outcomes``: subscriber_id, snapshot_date, offer_type, treated, churned) with the
features of each decision's snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from weiwan.analytics.churn.models import LogisticChurnModel

MIN_ARM = 200  # customers per arm
MIN_CHURNERS = 10  # churners per arm
MAX_UPLIFT = 0.9


@dataclass(frozen=True)
class LearnedUplift:
    """One offer type's learned effect and the evidence behind it."""

    offer_type: str
    uplift: float
    treated: int
    held_out: int
    churn_treated: float
    churn_held_out: float


def learn_uplift(
    outcomes: pd.DataFrame,
    features: list[str],
    *,
    min_arm: int = MIN_ARM,
    min_churners: int = MIN_CHURNERS,
) -> dict[str, LearnedUplift]:
    """Per offer type with enough evidence, its relative uplift (0 … ``MAX_UPLIFT``)."""
    learned: dict[str, LearnedUplift] = {}
    for offer_type, rows in outcomes.groupby("offer_type"):
        treated = rows[rows["treated"].astype(bool)]
        held = rows[~rows["treated"].astype(bool)]
        arms = (treated, held)
        if min(len(a) for a in arms) < min_arm:
            continue
        if min(int(a["churned"].sum()) for a in arms) < min_churners:
            continue
        p_t = _fit(treated, features).predict_proba(treated[features])[:, 1]
        p_c = _fit(held, features).predict_proba(treated[features])[:, 1]
        effect = 1.0 - float(np.mean(p_t)) / max(float(np.mean(p_c)), 1e-9)
        learned[str(offer_type)] = LearnedUplift(
            offer_type=str(offer_type),
            uplift=float(np.clip(effect, 0.0, MAX_UPLIFT)),
            treated=len(treated),
            held_out=len(held),
            churn_treated=float(treated["churned"].mean()),
            churn_held_out=float(held["churned"].mean()),
        )
    return learned


def _fit(rows: pd.DataFrame, features: list[str]) -> LogisticChurnModel:
    return LogisticChurnModel(C=0.5).fit(rows[features], rows["churned"].astype(bool))
