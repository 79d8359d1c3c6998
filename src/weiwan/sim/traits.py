"""Latent traits: what drives each line's behaviour but never appears in an extract."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from weiwan.sim.catalog import REGION_COMPETITOR_PULL, REGION_COMPETITOR_SPLIT, REGIONS
from weiwan.sim.profile import Profile


@dataclass(frozen=True)
class Traits:
    """Latent per-line traits (float arrays unless noted)."""

    price_sensitivity: np.ndarray  # 0..1
    satisfaction: np.ndarray  # base satisfaction 0..1
    competitor_pull: np.ndarray  # ≥ 0, regional level × personal openness
    financial_stress: np.ndarray  # 0..1, drives arrears
    frailty: np.ndarray  # log-odds offset of churn hazard
    voice: np.ndarray  # habitual minutes / month
    data: np.ndarray  # habitual MB / month
    sms: np.ndarray  # habitual messages / month
    offnet: np.ndarray  # habitual off-net voice share
    contacts: np.ndarray  # habitual distinct contacts / month
    vas: np.ndarray  # habitual value-added-service spend
    roaming: np.ndarray  # share of minutes roamed
    idle: np.ndarray  # habitual probability of a zero-usage day
    reserve: np.ndarray  # prepaid: balance kept, in months of plan fee
    destination: np.ndarray  # int: preferred competitor if porting out
    responsiveness: np.ndarray  # (n, 5) per OFFER_TYPES, 0..1
    sleeping_dog: np.ndarray  # bool: contact annoys them


def _beta(rng: np.random.Generator, a: np.ndarray | float, b: float, n: int) -> np.ndarray:
    return rng.beta(a, b, n)


def _frailty(rng: np.random.Generator, offnet: np.ndarray) -> np.ndarray:
    """Personal switching propensity (log-odds). Part of it shows in the calling circle: lines
    whose contacts sit on other networks leave more often (the network effect of Dasgupta et
    al. 2008, "Social ties and their relevance to churn in mobile telecom networks"); the rest
    leaves no trace in any extract. An offset with no footprint at all would make the truth
    unreachable by any model, not a "best achievable" yardstick."""
    circle = (offnet - 0.28) / 0.155  # habitual off-net share, standardised
    return 0.3 * circle + rng.normal(0, 0.33, len(offnet))


def draw_traits(rng: np.random.Generator, p: Profile) -> Traits:
    """Draw latent traits consistent with the profile (age, value, region, payment)."""
    n = len(p.age)
    young, old = p.age < 30, p.age > 55
    log_v = np.log(p.value)
    price = np.clip(
        _beta(rng, 2.0, 3.0, n) + 0.12 * p.prepaid - 0.1 * (log_v - 3.8) + 0.05 * young, 0, 1
    )
    sat = np.clip(_beta(rng, 5.0, 2.2, n) - 0.06 * p.rural + 0.04 * old, 0, 1)
    regional = np.array([REGION_COMPETITOR_PULL[r] for r in REGIONS])[p.region]
    pull = regional * rng.lognormal(-0.2, 0.55, n) * (1 + 0.35 * young - 0.3 * old)
    stressed = rng.random(n) < np.clip(
        0.09 + 0.08 * p.prepaid + 0.06 * young - 0.04 * (log_v - 3.8), 0.02, 0.4
    )
    stress = np.where(stressed, rng.uniform(0.3, 1.0, n), rng.uniform(0, 0.1, n))
    data = rng.lognormal(np.log(5000) + 0.6 * young - 0.9 * old + 0.35 * (log_v - 3.8), 0.85)
    voice = rng.lognormal(np.log(260) + 0.25 * old - 0.2 * young + 0.4 * (log_v - 3.8), 0.75)
    offnet = np.clip(_beta(rng, 2.2, 5.5, n) - 0.04 * p.rural, 0.01, 0.95)
    split = np.array([REGION_COMPETITOR_SPLIT[r] for r in REGIONS])[p.region]
    destination = (rng.random(n)[:, None] > np.cumsum(split, axis=1)).sum(axis=1)
    return Traits(
        price_sensitivity=price,
        satisfaction=sat,
        competitor_pull=pull,
        financial_stress=stress,
        frailty=_frailty(rng, offnet),
        voice=voice,
        data=data,
        sms=rng.lognormal(np.log(14) - 0.3 * young, 0.9),
        offnet=offnet,
        contacts=np.clip(rng.lognormal(np.log(35), 0.5, n) * (voice / 260) ** 0.3, 2, 400),
        vas=np.where(rng.random(n) < 0.6, rng.lognormal(np.log(6), 0.9, n), 0.0),
        roaming=np.where(rng.random(n) < 0.25, rng.beta(1.0, 12.0, n), 0.0),
        idle=np.clip(rng.lognormal(np.log(0.015), 0.8, n) + 0.04 * p.prepaid, 0, 0.5),
        reserve=rng.uniform(0.15, 1.4, n) * (1.2 - stress),
        destination=np.minimum(destination, split.shape[1] - 1).astype(np.int64),
        responsiveness=_responsiveness(rng, price, data, p),
        sleeping_dog=rng.random(n) < SLEEPING_DOG_SHARE,
    )


#: receptiveness' personal part: a Beta(2, 2.5) draw per line and offer type, weighted per type
_PERSONAL = (2.0, 2.5)
_PERSONAL_WEIGHT = np.array([0.3, 0.4, 0.3, 0.4, 1.0])  # the care call's is all personal
#: share of lines no offer moves much, and how much of their receptiveness is left
UNMOVED_SHARE, UNMOVED_LEFT = 0.12, 0.1
#: share of lines a contact annoys (the sleeping dogs)
SLEEPING_DOG_SHARE = 0.04


def _shown_receptiveness(price: np.ndarray, data: np.ndarray, p: Profile) -> list[list[np.ndarray]]:
    """Per offer type, the terms of its receptiveness that the line's traits and profile set
    (price sensitivity, data habit, device age, plan), added after the personal part."""
    heavy = np.clip(np.log(data / 5000) / 2 + 0.5, 0, 1)
    old_device = np.clip((p.device_age_end - 12) / 24, 0, 1)
    fee96 = np.isin(p.plan, [5, 6])  # the 96 and 126 plans
    return [
        [0.7 * price],  # discount
        [0.6 * heavy],  # bonus_data
        [0.7 * old_device],  # device_subsidy
        [0.45 * price, 0.15 * (p.prepaid | fee96)],  # prepay_and_get
        [],  # care_call: all personal
    ]


def _receptiveness(personal: np.ndarray, shown: list[list[np.ndarray]]) -> np.ndarray:
    """The personal part (lines × types, or one value per type) weighted, plus the shown terms."""
    n = len(shown[0][0])
    out: np.ndarray = np.zeros((n, len(shown))) + _PERSONAL_WEIGHT * personal
    for j, terms in enumerate(shown):
        for term in terms:  # added in turn, as the draws have always been summed
            out[:, j] += term
    return out


def _responsiveness(
    rng: np.random.Generator, price: np.ndarray, data: np.ndarray, p: Profile
) -> np.ndarray:
    """How receptive each line is to each offer type, before matching its churn reason."""
    n = len(price)
    personal = rng.beta(*_PERSONAL, (n, 5))
    out = _receptiveness(personal, _shown_receptiveness(price, data, p))
    unmoved = rng.random(n) < UNMOVED_SHARE
    out[unmoved] *= UNMOVED_LEFT
    return np.asarray(np.clip(out, 0, 1))


def expected_responsiveness(traits: Traits, p: Profile) -> np.ndarray:
    """Each line's receptiveness averaged over what no record of it can show: the personal
    draw and whether it is one of the unmoved (evaluation only: the latent oracle)."""
    mean_personal = _PERSONAL[0] / (_PERSONAL[0] + _PERSONAL[1])
    shown = _shown_receptiveness(traits.price_sensitivity, traits.data, p)
    # every type's weights sum to at most 1, so the clip in _responsiveness never binds
    moved = 1.0 - UNMOVED_SHARE * (1.0 - UNMOVED_LEFT)
    return np.asarray(np.clip(_receptiveness(np.full(5, mean_personal), shown), 0, 1) * moved)
