"""Monthly bill and usage rows derived from the latent state (the signals a model sees)."""

from __future__ import annotations

import numpy as np

from weiwan.sim.context import Context
from weiwan.sim.state import HOLD_KEEP_NUMBER, HOLD_SUSPEND, PORT_OUT, Events, Month, State
from weiwan.sim.transitions import EV

KEEP_NUMBER_FEE = 5.0
Columns = dict[str, np.ndarray]


def _availability(month: Month, idx: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """(share of the month in service, share of normal usage possible given suspensions)."""
    span = month.last_dom[idx] - month.first_dom[idx] + 1
    frac = span / length
    hold, stage = month.hold_during[idx], month.stage_during[idx]
    usable = np.select(
        [hold == HOLD_KEEP_NUMBER, hold == HOLD_SUSPEND, stage >= 2], [0.02, 0.5, 0.4], 1.0
    )
    return frac, frac * usable


def _volumes(
    ctx: Context, state: State, month: Month, idx: np.ndarray, rng: np.random.Generator
) -> Columns:
    """Voice, data, SMS, contacts and off-net share: they fall as intent builds."""
    tr, n = ctx.traits, len(idx)
    total = state.intent[idx].sum(axis=1, dtype=np.float64)
    rival = state.intent[idx, 3].astype(np.float64)
    seen = total * rng.lognormal(0.0, 0.35, n)
    fade = np.exp(-0.3 * seen)
    frac, avail = _availability(month, idx, int(ctx.window.lengths[month.index]))
    growth = 1.0 + 0.012 * month.index
    voice = tr.voice[idx] * fade * avail * rng.lognormal(0.0, 0.2, n)
    courted = state.shopping[idx]
    offnet = tr.offnet[idx] + 0.3 * np.tanh(0.7 * rival) + 0.05 * np.tanh(total) + 0.09 * courted
    offnet = np.clip(offnet + rng.normal(0.0, 0.035, n), 0.0, 1.0)
    return {
        "voice_minutes": np.round(voice, 1),
        "offnet_voice_share": np.round(np.where(voice > 0, offnet, 0.0), 4),
        "data_mb": np.round(
            tr.data[idx] * fade**0.8 * avail * growth * rng.lognormal(0.0, 0.25, n), 1
        ),
        "sms_count": rng.poisson(tr.sms[idx] * fade * avail),
        "roaming_minutes": np.round(voice * tr.roaming[idx] * rng.lognormal(0, 0.5, n), 1),
        "distinct_contacts": rng.poisson(tr.contacts[idx] * fade**0.7 * np.sqrt(frac)),
        "_fade": fade,
        "_frac": frac,
    }


def _rival_signals(
    ctx: Context,
    state: State,
    month: Month,
    idx: np.ndarray,
    rng: np.random.Generator,
    events: Events,
) -> Columns:
    """Competitor service calls, call forwarding (with on/off events), zero-usage days."""
    n = len(idx)
    total = state.intent[idx].sum(axis=1, dtype=np.float64)
    rival = state.intent[idx, 3].astype(np.float64)
    porting = month.churned[idx] & (state.churn_type[idx] == PORT_OUT)
    calls = rng.poisson(0.015 + 0.45 * rival**1.5 + 0.06 * total + 1.2 * porting)
    first, last = month.first_dom[idx], month.last_dom[idx]
    span = last - first + 1
    p_cf = 1.0 / (1.0 + np.exp(5.6 - 1.5 * rival - 0.5 * total))
    cf = (rng.random(n) < p_cf) | (porting & (rng.random(n) < 0.6))
    days = np.where(cf, np.minimum(rng.integers(1, 11, n), span), 0)
    start = np.where(
        porting, last - days + 1, first + (rng.random(n) * (span - days + 1)).astype(np.int64)
    )
    on = np.flatnonzero(cf)
    events.add(idx[on], start[on], EV["call_forwarding_on"])
    off = np.flatnonzero(cf & ~porting)
    events.add(idx[off], (start + days - 1)[off], EV["call_forwarding_off"])
    idle = np.clip(ctx.traits.idle[idx] + 0.035 * total, 0.0, 0.9)
    zero = rng.binomial(span, idle)
    hold = month.hold_during[idx]
    zero = np.where(
        hold == HOLD_KEEP_NUMBER,
        span,
        np.where(hold == HOLD_SUSPEND, np.maximum(zero, span // 2), zero),
    )
    return {
        "competitor_service_calls": calls,
        "call_forwarding_days": days,
        "zero_usage_days": zero,
    }


def _billing(
    ctx: Context,
    state: State,
    month: Month,
    idx: np.ndarray,
    frac: np.ndarray,
    rng: np.random.Generator,
) -> Columns:
    """Bill = prorated plan fee + overage + VAS; prepaid recharge/balance, postpaid arrears."""
    p, tr, n = ctx.profile, ctx.traits, len(idx)
    fee = ctx.fees[state.plan[idx]]
    keep = month.hold_during[idx] == HOLD_KEEP_NUMBER
    vas = np.round(tr.vas[idx] * (rng.random(n) < 0.85) * rng.lognormal(0, 0.3, n) * frac, 2)
    bill = np.where(keep, KEEP_NUMBER_FEE, fee * frac) + month.bill_shock[idx] * frac + vas
    bill = np.round(bill, 2)
    owing = state.stage[idx] >= 1
    prepaid = p.prepaid[idx]
    prev = state.balance[idx]
    need = bill + tr.reserve[idx] * fee - prev
    recharge = np.where(owing | (need <= 0), 0.0, np.ceil(need / 50.0) * 50.0)
    balance = prev + recharge - bill
    balance = np.where(owing, np.minimum(balance, -rng.uniform(0.5, 20.0, n)), balance)
    arrears = np.where(owing, state.arrears[idx] + bill, 0.0)
    balance = np.round(np.where(prepaid, balance, -arrears), 2) + 0.0  # no "-0"
    arrears = np.round(np.where(prepaid, np.maximum(-balance, 0.0), arrears), 2)
    state.balance[idx] = balance
    state.arrears[idx] = arrears
    return {
        "bill_amount": bill,
        "vas_amount": vas,
        "recharge_amount": np.where(prepaid, recharge, 0.0),
        "balance": balance,
        "arrears_amount": arrears,
    }


#: dropped calls per month of a line with habitual voice use (260 minutes): everywhere, the
#: extra in the countryside's weaker coverage, and during a network failure (× a uniform draw
#: in the given range: some failures are an afternoon, some a week)
DROPS_BASE, DROPS_RURAL, DROPS_FAILURE = 0.25, 0.35, (2.0, 6.0)


def _network_experience(
    ctx: Context, month: Month, idx: np.ndarray, voice: np.ndarray, rng: np.random.Generator
) -> Columns:
    """Dropped calls (掉话次数), as the operator's network side counts them per line: a network
    failure the line suffered shows here whether or not it complained (most do not). Only
    calls made can drop, so the count follows the month's voice use."""
    rural = ctx.profile.rural[idx]
    failure = month.net_fail[idx] * rng.uniform(*DROPS_FAILURE, len(idx))
    calls = np.sqrt(np.maximum(voice, 0.0) / 260.0)
    return {"dropped_calls": rng.poisson(calls * (DROPS_BASE + DROPS_RURAL * rural + failure))}


def usage_month(
    ctx: Context,
    state: State,
    month: Month,
    rng: np.random.Generator,
    network_rng: np.random.Generator,
) -> tuple[np.ndarray, Columns]:
    """(row indices, monthly_usage columns) for every line in service during the month; the
    network-side counts are drawn from their own stream (``network_rng``), so adding them left
    every other column's draws as they were."""
    idx = np.flatnonzero(month.present)
    vol = _volumes(ctx, state, month, idx, rng)
    rival = _rival_signals(ctx, state, month, idx, rng, month.events)
    bill = _billing(ctx, state, month, idx, vol.pop("_frac"), rng)
    vol.pop("_fade")
    network = _network_experience(ctx, month, idx, vol["voice_minutes"], network_rng)
    return idx, {**bill, **vol, **rival, **network}
