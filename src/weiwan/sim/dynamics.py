"""Monthly latent dynamics: churn intent by driver, hazard, and the churn draw itself.

Order within month ``m``: lines draw churn from the probability fixed at the end of ``m-1``
(so the truth ``p_churn_next`` is exact), then account transitions, then this month's shocks
move the intent, and finally the hazard for ``m+1`` is computed from the new state.
"""

from __future__ import annotations

import numpy as np

from weiwan.sim.context import BURN_IN, Context
from weiwan.sim.shocks import draw_shocks
from weiwan.sim.state import (
    INVOLUNTARY,
    NON_PAYMENT,
    OTHER,
    PORT_OUT,
    VOLUNTARY,
    Events,
    Month,
    State,
)
from weiwan.sim.transitions import EV, account_transitions

#: monthly persistence of each intent component (price … relocation)
RHO = np.array([0.70, 0.60, 0.78, 0.86, 0.62, 0.50], dtype=np.float32)
P_INVOL = 0.8
#: share of voluntary leavers who port out, by latent reason code
PORT_OUT_SHARE = np.array([0.55, 0.50, 0.35, 0.85, 0.60, 0.10, 0.0, 0.30])
B0, B_INTENT = -5.66, 1.1


def hazard(ctx: Context, state: State, t: int) -> tuple[np.ndarray, np.ndarray]:
    """(voluntary, involuntary) churn probability for month ``t`` given the current state."""
    p, tr = ctx.profile, ctx.traits
    total = state.intent.sum(axis=1, dtype=np.float64)
    tenure = t - p.join_month
    under = ctx.contract_month > t
    expiring = (ctx.contract_month == t) | (ctx.contract_month == t - 1)
    z = (
        B0
        + B_INTENT * total
        + 0.45 * p.prepaid
        + 0.8 * (tenure < 6)
        - 0.8 * under
        + 1.0 * expiring
        + 0.9 * (state.hold == 2)
        - 0.35 * p.broadband
        - 0.25 * p.high_value
        + tr.frailty
    )
    p_vol = 1.0 / (1.0 + np.exp(-z))
    p_invol = np.where(state.stage == 3, P_INVOL, 0.0)
    return p_vol, p_invol


def latent_reason(state: State) -> np.ndarray:
    """Dominant driver of intent; non_payment while in arrears; other when nothing stands out."""
    top = np.argmax(state.intent, axis=1).astype(np.int8)
    strong = state.intent.max(axis=1) > 0.25
    reason = np.where(strong, top, np.int8(OTHER))
    return np.where(state.stage >= 1, np.int8(NON_PAYMENT), reason).astype(np.int8)


def init_state(ctx: Context, rng: np.random.Generator) -> State:
    """State at the window start: intent after a burn-in, a stationary share in arrears."""
    p, tr, w = ctx.profile, ctx.traits, ctx.window
    n = len(p.age)
    existing = p.join_month < 0
    intent = np.zeros((n, len(RHO)), dtype=np.float32)
    shopping = np.zeros(n, dtype=bool)
    for t in range(-BURN_IN, 0):
        s = draw_shocks(ctx, rng, t, existing & (p.join_month <= t), shopping)
        intent = intent * RHO + s.inputs
        shopping = s.shopping
    q = 0.12 * tr.financial_stress**2
    u = rng.random(n)
    stage = np.select([u < 0.4 * q, u < q, u < 2 * q], [3, 2, 1], 0).astype(np.int8)
    stage = np.where(existing, stage, 0).astype(np.int8)
    hold = np.where(existing & (stage == 0) & p.prepaid & (rng.random(n) < 0.015), 2, 0)
    hold = hold.astype(np.int8)
    fee = ctx.fees[p.plan]
    held = (stage >= 2) | (hold > 0)
    state = State(
        intent=intent,
        stage=stage,
        hold=hold,
        shopping=shopping,
        plan=p.plan.copy(),
        alive=existing,
        reason=np.zeros(n, dtype=np.int8),
        status_day=np.where(held, w.first_day - rng.integers(1, 28, n), p.join_day),
        balance=np.where(p.prepaid, fee * tr.reserve, 0.0) * (stage == 0),
        arrears=np.where(p.prepaid, 0.0, fee * stage),
        p_vol=np.zeros(n),
        p_invol=np.zeros(n),
        churn_month=np.full(n, -1, dtype=np.int64),
        churn_day=np.zeros(n, dtype=np.int64),
        churn_type=np.full(n, -1, dtype=np.int8),
        churn_reason=np.full(n, -1, dtype=np.int8),
    )
    state.reason = latent_reason(state)
    state.p_vol, state.p_invol = hazard(ctx, state, 0)
    return state


def _draw_churn(
    ctx: Context, state: State, rng: np.random.Generator, m: int, events: Events
) -> tuple[np.ndarray, np.ndarray]:
    """Who leaves in month ``m`` and on which day-of-month; records type and reason."""
    n, length = len(state.alive), int(ctx.window.lengths[m])
    before = state.alive
    invol = before & (rng.random(n) < state.p_invol)
    vol = before & ~invol & (rng.random(n) < state.p_vol)
    port = vol & (rng.random(n) < PORT_OUT_SHARE[state.reason])
    churned = invol | vol
    dom = np.where(invol, rng.integers(3, length + 1, n), rng.integers(1, length + 1, n))
    ctype = np.where(invol, INVOLUNTARY, np.where(port, PORT_OUT, VOLUNTARY)).astype(np.int8)
    rows = np.flatnonzero(churned)
    state.churn_month[rows] = m
    state.churn_day[rows] = ctx.window.start_days[m] + dom[rows] - 1
    state.churn_type[rows] = ctype[rows]
    state.churn_reason[rows] = np.where(invol[rows], NON_PAYMENT, state.reason[rows])
    state.status_day[rows] = state.churn_day[rows]
    gone = np.flatnonzero(churned & ~port)
    events.add(gone, dom[gone], EV["disconnect"])
    ported = np.flatnonzero(port)
    events.add(ported, dom[ported], EV["port_out"])
    return churned, dom


def step_month(ctx: Context, state: State, rng: np.random.Generator, m: int) -> Month:
    """Advance the chunk through window month ``m``."""
    p, w = ctx.profile, ctx.window
    events = Events()
    before = state.alive.copy()
    joining = p.join_month == m
    churned, churn_dom = _draw_churn(ctx, state, rng, m, events)
    stay_before = before & ~churned
    stage_during, hold_during = account_transitions(ctx, state, rng, m, stay_before, events)
    present = before | joining
    shocks = draw_shocks(ctx, rng, m, present, state.shopping)
    state.shopping = shocks.shopping
    state.intent *= RHO
    state.intent += shocks.inputs
    state.alive = stay_before | joining
    state.reason = latent_reason(state)
    state.p_vol, state.p_invol = hazard(ctx, state, m + 1)
    first = np.where(joining, p.join_day - w.start_days[m] + 1, 1)
    last = np.where(churned, churn_dom, w.lengths[m])
    return Month(
        index=m,
        present=present,
        first_dom=first,
        last_dom=last,
        churned=churned,
        alive_end=state.alive.copy(),
        bill_shock=shocks.overage,
        net_fail=shocks.net_fail,
        complaint=shocks.complaint,
        complaint_category=shocks.category,
        complaint_severity=shocks.severity,
        complaint_resolved=shocks.resolved,
        complaint_dom=first + (shocks.dom_u * (last - first + 1)).astype(np.int64),
        stage_during=stage_during,
        hold_during=hold_during,
        events=events,
    )
