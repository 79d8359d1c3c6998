"""How simulated subscribers answer a retention contact: reached or not, accepted or not, and
how much of an offer's true effect a channel carries (evaluation and the closed loop only).

The truth's offer effects (:func:`weiwan.sim.truth.treated_p_vol`) are those of an offer made
in person. A channel first has to reach the subscriber (an outbound call is answered, an SMS
read, a store or hotline screen-pop needs the customer to come), then carries part of the
effect (a text persuades less than a conversation). The expected share of the effect a contact
delivers is ``reach × potency``; who is reached is drawn. Acceptance is drawn among the reached,
likelier the more the offer really cuts the subscriber's churn: a sleeping dog almost never
accepts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: probability that a contact through each channel reaches the subscriber (every channel the
#: product contacts through: one missing here would reach no one, and the loop would price the
#: decisions that use it at nothing — as it did the account manager's call until 2026-12-06;
#: that call is taken as answered like an outbound call, not more, for want of evidence)
REACH: dict[str, float] = {
    "outbound_call": 0.7,
    "account_manager_call": 0.7,
    "sms": 0.9,
    "store": 0.3,
    "hotline": 0.3,
    "self_service": 0.25,
}
#: share of the offer's in-person effect a reached contact through the channel carries
POTENCY: dict[str, float] = {
    "outbound_call": 1.0,
    "account_manager_call": 1.0,
    "sms": 0.35,
    "store": 0.9,
    "hotline": 0.8,
    "self_service": 0.4,
}
#: acceptance among the reached: floor, slope per unit of relative churn cut, ceiling
_ACCEPT_FLOOR, _ACCEPT_SLOPE, _ACCEPT_CEILING = 0.05, 1.2, 0.85


def strength(channels: np.ndarray) -> np.ndarray:
    """Expected share of the in-person effect a contact through each channel delivers."""
    return np.array([REACH.get(c, 0.0) * POTENCY.get(c, 0.0) for c in channels], dtype=float)


@dataclass(frozen=True)
class Response:
    """Per contact: reached, accepted (only the reached accept), and the voluntary churn
    probability next month the contact leaves the subscriber with."""

    reached: np.ndarray
    accepted: np.ndarray
    p_vol: np.ndarray


def respond(
    rng: np.random.Generator, channels: np.ndarray, base: np.ndarray, treated: np.ndarray
) -> Response:
    """Draw the answers to contacts through ``channels`` of subscribers whose voluntary churn
    probability is ``base`` untreated and ``treated`` if the offer is made in person."""
    n = len(channels)
    reach = np.array([REACH.get(c, 0.0) for c in channels], dtype=float)
    potency = np.array([POTENCY.get(c, 0.0) for c in channels], dtype=float)
    reached = rng.random(n) < reach
    cut = np.where(base > 0, 1.0 - treated / np.where(base > 0, base, 1.0), 0.0)
    accept = np.clip(_ACCEPT_FLOOR + _ACCEPT_SLOPE * cut, _ACCEPT_FLOOR / 2, _ACCEPT_CEILING)
    accepted = reached & (rng.random(n) < np.where(cut < 0, _ACCEPT_FLOOR / 2, accept))
    p_vol = np.where(reached, base - potency * (base - treated), base)
    return Response(reached=reached, accepted=accepted, p_vol=np.clip(p_vol, 0.0, 1.0))
