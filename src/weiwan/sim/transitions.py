"""Account transitions: arrears chain, suspensions and plan changes, with their events."""

from __future__ import annotations

import numpy as np

from weiwan.analytics.contract import STATUS_EVENT_TYPES
from weiwan.sim.context import Context
from weiwan.sim.state import Events, State

EV = {name: i for i, name in enumerate(STATUS_EVENT_TYPES)}
#: plan index bounds per payment type: prepaid up to the 128 plan, postpaid from the 38 plan
_PREPAID_MAX, _POSTPAID_MIN = 7, 2


def _status_event(
    state: State,
    events: Events,
    ctx: Context,
    m: int,
    mask: np.ndarray,
    dom: np.ndarray,
    name: str,
) -> None:
    """Record a status-changing event and move the line's status date."""
    rows = np.flatnonzero(mask)
    days = dom[rows]
    events.add(rows, days, EV[name])
    state.status_day[rows] = np.maximum(state.status_day[rows], ctx.window.start_days[m] + days - 1)


def _arrears(
    ctx: Context,
    state: State,
    rng: np.random.Generator,
    m: int,
    live: np.ndarray,
    events: Events,
) -> np.ndarray:
    """Arrears chain: owing → suspend_arrears → pre_disconnect (→ disconnect), or resume."""
    n, length = len(live), int(ctx.window.lengths[m])
    s, u = state.stage, rng.random(n)
    q = 0.12 * ctx.traits.financial_stress**2
    enter = live & (s == 0) & (state.hold == 0) & (u < q)
    suspend = live & (s == 1) & (u < 0.6)
    paid = live & (s == 1) & ~suspend
    fast = suspend & (rng.random(n) < 0.35)
    pre = live & (s == 2) & (u < 0.65)
    resume = live & (((s == 2) & ~pre) | (s == 3))
    _status_event(state, events, ctx, m, suspend, rng.integers(3, 13, n), "suspend_arrears")
    pre_dom = np.where(fast, rng.integers(16, length + 1, n), rng.integers(3, 16, n))
    _status_event(state, events, ctx, m, pre | fast, pre_dom, "pre_disconnect")
    _status_event(state, events, ctx, m, resume, rng.integers(2, length + 1, n), "resume")
    new = s.copy()
    new[enter] = 1
    new[suspend] = 2
    new[pre | fast] = 3
    new[paid | resume] = 0
    during: np.ndarray = np.maximum(s, new)
    state.stage = new
    return during


def _holds(
    ctx: Context,
    state: State,
    rng: np.random.Generator,
    m: int,
    live: np.ndarray,
    events: Events,
) -> np.ndarray:
    """Suspensions on request (停机) and keep-number suspensions (停机保号), and resumes."""
    n, length = len(live), int(ctx.window.lengths[m])
    h, u = state.hold, rng.random(n)
    free = live & (state.stage == 0) & (h == 0)
    total = np.minimum(state.intent.sum(axis=1), 4.0)
    p_keep = 0.0006 + 0.003 * ctx.profile.prepaid * np.exp(0.5 * total)
    keep = free & (u < p_keep)
    susp = free & ~keep & (u < p_keep + 0.002)
    back = live & (((h == 1) & (u < 0.8)) | ((h == 2) & (u < 0.2)))
    dom = rng.integers(1, length + 1, n)
    _status_event(state, events, ctx, m, keep, dom, "suspend_keep_number")
    _status_event(state, events, ctx, m, susp, dom, "suspend")
    _status_event(state, events, ctx, m, back, dom, "resume")
    new = h.copy()
    new[keep] = 2
    new[susp] = 1
    new[back] = 0
    during = np.where(h > 0, h, new).astype(np.int8)
    state.hold = new
    return during


def _plan_changes(
    ctx: Context,
    state: State,
    rng: np.random.Generator,
    live: np.ndarray,
    events: Events,
    length: int,
) -> None:
    """Plan up/downgrades; stressed, price-sensitive lines tend to downgrade."""
    n = len(live)
    price = ctx.traits.price_sensitivity
    change = live & (state.stage == 0) & (state.hold == 0) & (rng.random(n) < 0.012)
    keen = state.intent.sum(axis=1) > 1.0
    down = rng.random(n) < 0.3 + 0.5 * price * keen
    hi = np.where(ctx.profile.prepaid, _PREPAID_MAX, len(ctx.fees) - 1)
    lo = np.where(ctx.profile.prepaid, 0, _POSTPAID_MIN)
    new = np.clip(state.plan + np.where(down, -1, 1), lo, hi)
    rows = np.flatnonzero(change & (new != state.plan))
    events.add(rows, rng.integers(1, length + 1, len(rows)), EV["plan_change"], new[rows])
    state.intent[rows[down[rows]], 0] *= 0.5
    state.plan[rows] = new[rows]


def account_transitions(
    ctx: Context,
    state: State,
    rng: np.random.Generator,
    m: int,
    live: np.ndarray,
    events: Events,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply month ``m``'s account transitions to lines in service all month long."""
    stage_during = _arrears(ctx, state, rng, m, live, events)
    hold_during = _holds(ctx, state, rng, m, live, events)
    _plan_changes(ctx, state, rng, live, events, int(ctx.window.lengths[m]))
    return stage_during, hold_during
