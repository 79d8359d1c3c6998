"""Ground truth for tests and evaluation: true churn probability, reason, offer effects.

Product code never reads these files; they exist so that models and campaigns can be scored
against what really drove the simulated subscribers.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from weiwan.analytics.contract import CHURN_REASONS
from weiwan.sim.catalog import OFFER_TYPES
from weiwan.sim.context import Context
from weiwan.sim.state import State
from weiwan.sim.traits import SLEEPING_DOG_SHARE, expected_responsiveness

#: how well each offer addresses each latent reason (rows: CHURN_REASONS, cols: OFFER_TYPES)
OFFER_MATCH = np.array(
    [
        [1.0, 0.5, 0.2, 0.9, 0.1],  # price
        [0.1, 0.2, 0.1, 0.1, 0.7],  # network_quality
        [0.2, 0.1, 0.1, 0.1, 0.9],  # service
        [0.8, 0.6, 0.5, 0.7, 0.2],  # competitor_offer
        [0.6, 0.4, 0.9, 0.7, 0.2],  # contract_end
        [0.0, 0.0, 0.0, 0.0, 0.05],  # relocation
        [0.3, 0.0, 0.0, 0.2, 0.1],  # non_payment
        [0.3, 0.3, 0.3, 0.3, 0.3],  # other
    ]
)
MAX_EFFECT = 0.7
#: a sleeping dog's churn probability when contacted: × (1 + a uniform draw in this range)
ANNOYANCE = (0.3, 1.0)
_REASONS = pa.array(CHURN_REASONS)


def churn_either(p_vol: np.ndarray, p_invol: np.ndarray) -> np.ndarray:
    """Probability of leaving voluntarily or not, the two drawn independently."""
    return np.asarray(1.0 - (1.0 - p_vol) * (1.0 - p_invol))


def p_churn_next(state: State) -> np.ndarray:
    """True probability of leaving during the next month (voluntary or not)."""
    return churn_either(state.p_vol, state.p_invol)


def monthly_truth(state: State, ids: pa.Array, label: str) -> pa.Table:
    """Rows for every line in service at the end of month ``label``."""
    idx = np.flatnonzero(state.alive)
    take = pa.array(idx)
    return pa.table(
        {
            "subscriber_id": ids.take(take),
            "month": pa.array([label]).take(pa.array(np.zeros(len(idx), np.int64))),
            "p_churn_next": pa.array(p_churn_next(state)[idx]),
            "reason": _REASONS.take(pa.array(state.reason[idx].astype(np.int64))),
        }
    )


def treated_p_vol(
    ctx: Context, state: State, idx: np.ndarray, offers: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Voluntary churn probability next month of lines ``idx`` if offered ``offers`` (offer
    type codes, the same shape as ``idx``): cut by how well the offer meets the line's latent
    reason and how receptive the line is to it; raised for the sleeping dogs a contact annoys."""
    reason = state.reason[idx].astype(np.int64)
    effect = MAX_EFFECT * OFFER_MATCH[reason, offers] * ctx.traits.responsiveness[idx, offers]
    base = state.p_vol[idx]
    annoyed = base * (1.0 + rng.uniform(*ANNOYANCE, idx.shape))
    treated = np.where(ctx.traits.sleeping_dog[idx], annoyed, base * (1.0 - effect))
    return np.asarray(np.clip(treated, 0, 1))


def expected_treated_p_vol(
    ctx: Context, state: State, idx: np.ndarray, offers: np.ndarray
) -> np.ndarray:
    """:func:`treated_p_vol` averaged over what no record of the line can show — the personal
    part of its receptiveness, whether no offer moves it, whether a contact annoys it — given
    everything else about it, latent or not (its reason, its churn propensity): the most any
    model could know (evaluation only: the latent oracle)."""
    reason = state.reason[idx].astype(np.int64)
    receptive = expected_responsiveness(ctx.traits, ctx.profile)[idx, offers]
    effect = MAX_EFFECT * OFFER_MATCH[reason, offers] * receptive
    annoyed = 1.0 + sum(ANNOYANCE) / 2
    share = SLEEPING_DOG_SHARE
    return np.asarray(
        np.clip(state.p_vol[idx] * ((1 - share) * (1.0 - effect) + share * annoyed), 0, 1)
    )


def offer_effects(ctx: Context, state: State, ids: pa.Array, rng: np.random.Generator) -> pa.Table:
    """Per line in service at the window end and offer: next-month p if treated."""
    idx = np.flatnonzero(state.alive)
    lines, offers = np.meshgrid(idx, np.arange(len(OFFER_TYPES)), indexing="ij")
    treated = treated_p_vol(ctx, state, lines, offers, rng)
    expected = expected_treated_p_vol(ctx, state, lines, offers)
    return effects_table(ids, idx, treated, state.p_invol, expected)


def effects_table(
    ids: pa.Array,
    lines: np.ndarray,
    treated: np.ndarray,
    p_invol: np.ndarray,
    expected: np.ndarray,
) -> pa.Table:
    """The truth ``offer_effects`` of ``lines`` (row numbers) from their voluntary churn
    probability if treated (``treated``: lines × offer types), its expectation over what no
    record shows (``expected``, the same shape) and their ``p_invol`` (all rows)."""
    k, o = len(lines), len(OFFER_TYPES)
    invol = p_invol[lines][:, None]
    return pa.table(
        {
            "subscriber_id": ids.take(pa.array(np.repeat(lines, o))),
            "offer_type": pa.array(OFFER_TYPES).take(pa.array(np.tile(np.arange(o), k))),
            "p_churn_next_if_treated": pa.array(churn_either(treated, invol).reshape(-1)),
            "p_churn_next_if_treated_expected": pa.array(churn_either(expected, invol).reshape(-1)),
        }
    )


def traits_table(ctx: Context, ids: pa.Array) -> pa.Table:
    """Latent traits per line."""
    tr, p = ctx.traits, ctx.profile
    cols: dict[str, pa.Array] = {
        "subscriber_id": ids,
        "price_sensitivity": pa.array(tr.price_sensitivity),
        "satisfaction": pa.array(tr.satisfaction),
        "competitor_pull": pa.array(tr.competitor_pull),
        "financial_stress": pa.array(tr.financial_stress),
        "frailty": pa.array(tr.frailty),
        "spend_potential": pa.array(p.value),
        "voice_habit": pa.array(tr.voice),
        "data_habit": pa.array(tr.data),
        "sms_habit": pa.array(tr.sms),
        "high_value": pa.array(p.high_value),
        "sleeping_dog": pa.array(tr.sleeping_dog),
    }
    for j, offer in enumerate(OFFER_TYPES):
        cols[f"responsiveness_{offer}"] = pa.array(tr.responsiveness[:, j])
    return pa.table(cols)
