"""The operator's earlier retention campaigns (挽留营销记录) and their true effect on churn.

At each month end but the last, the operator's former practice offers a retention offer to a
share of its lines in service: drawn at random with odds rising with their churn risk (its old
model ranked risk fairly well), each with an offer type drawn at random (an A/B test of its
offers), and a random hold-out left uncontacted as the campaign's control group. A contacted
line's churn probability for the next month becomes its true probability if treated with that
offer (:func:`weiwan.sim.truth.treated_p_vol`), so the delivered records and churn carry the
true effects for the product to learn from; the monthly truth keeps the untreated probability.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from weiwan.sim.calendar import Window
from weiwan.sim.catalog import OFFER_TYPES
from weiwan.sim.context import Context
from weiwan.sim.state import State
from weiwan.sim.truth import treated_p_vol

#: share of the lines in service each month's campaign takes (contacted and held out)
CAMPAIGN_SHARE = 0.03
#: share of a campaign's lines held out as its control group
HOLDOUT_SHARE = 0.2
#: a campaign's odds of taking a line grow with its churn risk to this power
RISK_POWER = 1.0


def run_campaign(
    ctx: Context, state: State, ids: pa.Array, m: int, rng: np.random.Generator
) -> pa.Table:
    """Month ``m``'s campaign at its last day: apply its effects to next month's churn
    probability of the contacted lines and return its records (contract ``retention_contacts``)."""
    alive = np.flatnonzero(state.alive)
    size = round(CAMPAIGN_SHARE * len(alive))
    if size == 0:
        nobody = np.array([], np.int64)
        return _records(ids, nobody, nobody, nobody.astype(bool), ctx.window, m)
    weight = state.p_vol[alive] ** RISK_POWER
    chosen = np.sort(rng.choice(alive, size=size, replace=False, p=weight / weight.sum()))
    offers = rng.integers(0, len(OFFER_TYPES), size)
    held = rng.random(size) < HOLDOUT_SHARE
    contacted, offered = chosen[~held], offers[~held]
    state.p_vol[contacted] = treated_p_vol(ctx, state, contacted, offered, rng)
    return _records(ids, chosen, offers, held, ctx.window, m)


def _records(
    ids: pa.Array, lines: np.ndarray, offers: np.ndarray, held: np.ndarray, window: Window, m: int
) -> pa.Table:
    last_day = int(window.start_days[m] + window.lengths[m] - 1)
    label = window.labels[m]
    subscribers = ids.take(pa.array(lines, pa.int64()))
    return pa.table(
        {
            "contact_id": pc.binary_join_element_wise(
                f"RC{label.replace('-', '')}", subscribers, "-"
            ),
            "subscriber_id": subscribers,
            "contact_date": pa.array(np.full(len(lines), last_day, np.int32), pa.date32()),
            "offer_type": pa.array(OFFER_TYPES).take(pa.array(offers, pa.int64())),
            "holdout": pa.array(held, pa.bool_()),
            "campaign": pa.array([f"retention-{label}"] * len(lines), pa.string()),
        }
    )
