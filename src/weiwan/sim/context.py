"""Constants of one simulated chunk and the market all chunks share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from weiwan.sim.calendar import Window, month_index_of
from weiwan.sim.catalog import PLAN_FEES, REGIONS
from weiwan.sim.profile import Profile
from weiwan.sim.traits import Traits

#: months of latent history simulated before the window so intent starts settled
BURN_IN = 24
_NO_CONTRACT = -(10**6)


@dataclass(frozen=True)
class Context:
    """Constants of one chunk: window, profile, traits, market and derived arrays."""

    window: Window
    profile: Profile
    traits: Traits
    campaign: np.ndarray  # (regions, BURN_IN + months) competitor campaign intensity
    contract_month: np.ndarray  # window month of contract end; very negative = none
    fees: np.ndarray


def market_campaigns(seed: int, months: int) -> np.ndarray:
    """Competitor campaign intensity per region and month (same for every chunk)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED_0002]))
    shape = (len(REGIONS), BURN_IN + months)
    on = rng.random(shape) < 0.25
    return np.where(on, rng.uniform(0.6, 1.0, shape), rng.uniform(0.0, 0.25, shape))


def make_context(window: Window, profile: Profile, traits: Traits, seed: int) -> Context:
    """Bundle the chunk constants."""
    has = profile.contract_end_day >= 0
    cm = np.where(
        has, month_index_of(np.maximum(profile.contract_end_day, 0), window), _NO_CONTRACT
    )
    return Context(
        window=window,
        profile=profile,
        traits=traits,
        campaign=market_campaigns(seed, window.months),
        contract_month=cm,
        fees=np.array(PLAN_FEES, dtype=np.float64),
    )
