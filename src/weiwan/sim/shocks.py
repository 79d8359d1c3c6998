"""What happens to a line in a month that moves its churn intent, by driver."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from weiwan.sim.context import BURN_IN, Context

# complaint categories (contract order): network, billing, service, product, other
_NETWORK, _BILLING = 0, 1


@dataclass(frozen=True)
class Shocks:
    """One month's shocks and the intent input they cause."""

    inputs: np.ndarray  # (n, K) float32 added to the decayed intent
    overage: np.ndarray  # CNY over the plan fee (bill shock); 0 = none
    net_fail: np.ndarray  # bool
    complaint: np.ndarray  # bool
    category: np.ndarray  # int64
    severity: np.ndarray  # int64 0 low, 1 medium, 2 high
    resolved: np.ndarray  # bool
    dom_u: np.ndarray  # uniform 0..1: where in the month the complaint falls
    shopping: np.ndarray  # bool: courted by a competitor (persists for a few months)


def _complaints(
    rng: np.random.Generator,
    present: np.ndarray,
    net_fail: np.ndarray,
    shock: np.ndarray,
    sat: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(complaint, category, severity, resolved): failures and bill shocks trigger most."""
    n = len(present)
    p = 0.006 + 0.22 * net_fail + 0.30 * shock + 0.035 * (1 - sat) ** 2
    complaint = present & (rng.random(n) < p)
    other = rng.choice(np.array([2, 3, 4]), n, p=[0.5, 0.3, 0.2])
    category = np.where(net_fail, _NETWORK, np.where(shock, _BILLING, other))
    sev_u = rng.random(n) - 0.15 * net_fail
    severity = np.select([sev_u < 0.15, sev_u < 0.5], [2, 1], 0)
    resolved = rng.random(n) < 0.88 - 0.12 * (severity == 2) - 0.08 * (category == _NETWORK)
    return complaint, category, severity, resolved


def _shopping(
    ctx: Context,
    rng: np.random.Generator,
    campaign: np.ndarray,
    shopping: np.ndarray,
    present: np.ndarray,
) -> np.ndarray:
    """Lines courted by a competitor: starts with pull × campaigns, lasts ~3 months."""
    n = len(present)
    start = rng.random(n) < 0.03 * ctx.traits.competitor_pull * (0.3 + campaign)
    keep = rng.random(n) < 0.7
    return present & np.where(shopping, keep, start)


def draw_shocks(
    ctx: Context, rng: np.random.Generator, t: int, present: np.ndarray, shopping: np.ndarray
) -> Shocks:
    """Shocks of month ``t`` (negative during burn-in) for the lines in service."""
    p, tr = ctx.profile, ctx.traits
    n = len(present)
    price, sat, fee = tr.price_sensitivity, tr.satisfaction, ctx.fees[p.plan]
    net_fail = present & (rng.random(n) < 0.025 + 0.035 * p.rural)
    heavy = np.clip(np.log(tr.data / 4000.0), 0, 2.5)
    shock = present & (rng.random(n) < 0.025 + 0.035 * heavy)
    overage = np.where(shock, np.round(fee * rng.uniform(0.3, 1.2, n) + 8, 1), 0.0)
    complaint, category, severity, resolved = _complaints(rng, present, net_fail, shock, sat)
    campaign = ctx.campaign[p.region, BURN_IN + t]
    exposed = rng.random(n) < 0.35
    courted = _shopping(ctx, rng, campaign, shopping, present)
    to_end = ctx.contract_month - t
    reloc = rng.random(n) < 0.0012
    weight = np.where(resolved, 0.35, 1.0) * (1 + 0.5 * (severity == 2))
    inp = np.empty((n, 6), dtype=np.float32)
    inp[:, 0] = price * (0.1 + 1.4 * shock)
    inp[:, 1] = net_fail * rng.uniform(0.8, 2.0, n) * (1.3 - sat) + 0.3 * complaint * (
        category == _NETWORK
    )
    inp[:, 2] = 0.1 * (1 - sat) ** 2 + complaint * weight
    inp[:, 3] = (
        tr.competitor_pull
        * (0.01 + 0.1 * campaign * exposed + 0.45 * courted)
        * (0.6 + 0.8 * price)
    )
    inp[:, 4] = ((to_end >= 0) & (to_end <= 2)) * 0.9 * (0.4 + price)
    inp[:, 5] = reloc * 3.0
    inp *= present[:, None]
    return Shocks(
        inputs=inp,
        overage=overage,
        net_fail=net_fail,
        complaint=complaint,
        category=category,
        severity=severity,
        resolved=resolved,
        dom_u=rng.random(n),
        shopping=courted,
    )
