"""Static profile of each line: who the customer is, where, on which plan and contract."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from weiwan.sim.calendar import Window, add_months
from weiwan.sim.catalog import (
    BRANCHES,
    DEVICES,
    JOIN_CHANNEL_WEIGHTS,
    PLAN_FEES,
    branch_arrays,
)

_FEES = np.array(PLAN_FEES, dtype=np.float64)
HIGH_VALUE_FEE = 288.0


@dataclass(frozen=True)
class Profile:
    """Observable static attributes; arrays of one chunk, one entry per line."""

    global_index: np.ndarray  # int64 position of the line in the whole extract
    owner: np.ndarray  # int64 local index of the customer's first line
    age: np.ndarray
    birth_day: np.ndarray
    gender: np.ndarray  # int8: 0 M, 1 F, 2 U
    branch: np.ndarray
    region: np.ndarray
    rural: np.ndarray
    value: np.ndarray  # latent spend potential in CNY / month (log-normal)
    prepaid: np.ndarray
    plan: np.ndarray  # int64 index into PLAN_FEES, as of the window start
    join_day: np.ndarray
    join_month: np.ndarray  # window month index of joining; negative = before the window
    contract_end_day: np.ndarray  # -1 = never had a contract
    device: np.ndarray
    device_age_end: np.ndarray  # device age in months at the end of the window
    join_channel: np.ndarray
    broadband: np.ndarray
    family_members: np.ndarray
    high_value: np.ndarray


def _owners(rng: np.random.Generator, n: int) -> np.ndarray:
    """Local index of each line's customer: consecutive lines, 1–3 per customer."""
    sizes = rng.choice(3, n, p=[0.86, 0.10, 0.04]) + 1
    starts = np.cumsum(sizes) - sizes
    starts = starts[starts < n]
    owner = np.zeros(n, dtype=np.int64)
    owner[starts] = starts
    return np.maximum.accumulate(owner)


def _plans(rng: np.random.Generator, value: np.ndarray, prepaid: np.ndarray) -> np.ndarray:
    """Plan nearest (in log terms, with taste noise) to each line's spend potential."""
    target = np.log(value * np.where(prepaid, 0.75, 1.0)) + rng.normal(0, 0.25, len(value))
    dist = np.abs(np.log(_FEES)[None, :] - target[:, None])
    dist[:, _FEES > 158] += np.where(prepaid, 9.0, 0.0)[:, None]
    dist[:, _FEES < 38] += np.where(prepaid, 0.0, 9.0)[:, None]
    plan: np.ndarray = np.argmin(dist, axis=1).astype(np.int64)
    return plan


def _join_days(rng: np.random.Generator, n: int, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """Join day and join month index: ~10 years of history, recent years more likely."""
    months = window.months
    new_share = min(0.35, 0.012 * months)
    new = rng.random(n) < new_share
    tenure = 1 + rng.exponential(40.0, n)
    tenure = np.where(tenure > 124, rng.uniform(1, 124, n), tenure).astype(np.int64)
    join_month = np.where(new, rng.integers(0, months, n), -tenure)
    first = np.full(n, window.first_day, dtype=np.int64)
    month_start = add_months(first, join_month)
    month_len = add_months(first, join_month + 1) - month_start
    day = month_start + (rng.random(n) * month_len).astype(np.int64)
    return day, join_month


def _contracts(
    rng: np.random.Generator,
    window: Window,
    join_day: np.ndarray,
    prepaid: np.ndarray,
    value: np.ndarray,
) -> np.ndarray:
    """Contract end day (-1: no contract): 12/24-month terms, ends spread around the window."""
    n = len(join_day)
    p = np.clip(0.45 + 0.15 * (np.log(value) - 4.0), 0.2, 0.85)
    has = ~prepaid & (rng.random(n) < p)
    term = np.where(rng.random(n) < 0.6, 12, 24)
    offset = rng.integers(-10, window.months + 20, n)
    end = add_months(np.full(n, window.first_day, dtype=np.int64), offset)
    end = end + rng.integers(0, 28, n)
    fresh = add_months(join_day, term)
    end = np.where(end <= join_day + 60, fresh, end)
    return np.where(has, end, -1)


def draw_profile(rng: np.random.Generator, global_index: np.ndarray, window: Window) -> Profile:
    """Draw the static profile of one chunk of lines."""
    n = len(global_index)
    owner = _owners(rng, n)
    age = np.clip(rng.normal(39, 14, n), 16, 80).astype(np.int64)[owner]
    birth = window.last_day - (age * 365.25).astype(np.int64) - rng.integers(1, 364, n)
    birth = birth[owner]
    gender = rng.choice(3, n, p=[0.495, 0.475, 0.03]).astype(np.int8)[owner]
    weights, region_of, rural_of = branch_arrays()
    branch = rng.choice(len(BRANCHES), n, p=weights)[owner]
    mid_life = np.exp(-(((age - 40) / 18.0) ** 2))
    log_value = rng.normal(3.55 + 0.45 * mid_life - 0.25 * rural_of[branch], 0.6)
    high = rng.random(n) < 0.04
    log_value = log_value + np.where(high, 1.3, 0.0)
    value = np.exp(log_value)
    z = -0.6 - 0.9 * (log_value - 3.8) + 0.9 * (age < 25) + 0.7 * (age > 60)
    prepaid = rng.random(n) < 1 / (1 + np.exp(-z))
    plan = _plans(rng, value, prepaid)
    join_day, join_month = _join_days(rng, n, window)
    tier = np.clip(np.digitize(log_value, [3.6, 4.6]) + rng.integers(-1, 2, n), 0, 2)
    tiers = np.array([t for _, t in DEVICES])
    device = _pick_in_tier(rng, tier, tiers)
    device = np.where((age > 65) & (rng.random(n) < 0.5), len(DEVICES) - 1, device)
    device_age = np.clip(rng.exponential(18.0, n) + 1, 0, 96).astype(np.int64)
    bb = rng.random(n) < np.where(prepaid, 0.10, 0.38)
    family = np.clip(1 + rng.poisson(np.where(bb, 1.8, 0.9)), 1, 8)
    fee = _FEES[plan]
    return Profile(
        global_index=global_index,
        owner=owner,
        age=age,
        birth_day=birth,
        gender=gender,
        branch=branch,
        region=region_of[branch],
        rural=rural_of[branch],
        value=value,
        prepaid=prepaid,
        plan=plan,
        join_day=join_day,
        join_month=join_month,
        contract_end_day=_contracts(rng, window, join_day, prepaid, value),
        device=device,
        device_age_end=device_age,
        join_channel=rng.choice(6, n, p=_channel_weights()),
        broadband=bb,
        family_members=family,
        high_value=high | (fee >= HIGH_VALUE_FEE),
    )


def _channel_weights() -> np.ndarray:
    w: np.ndarray = np.array(JOIN_CHANNEL_WEIGHTS)
    return w / float(w.sum())


def _pick_in_tier(rng: np.random.Generator, tier: np.ndarray, tiers: np.ndarray) -> np.ndarray:
    """A random device model of each line's price tier (feature phones excluded)."""
    out = np.zeros(len(tier), dtype=np.int64)
    for t in range(3):
        models = np.flatnonzero(tiers == t)
        models = models[models != len(tiers) - 1]
        mask = tier == t
        out[mask] = models[rng.integers(0, len(models), int(mask.sum()))]
    return out
