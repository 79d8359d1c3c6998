"""End-of-window tables: the subscriber roster (用户资料) and churn records (离网记录)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from weiwan.analytics.contract import (
    CHURN_REASONS,
    CHURN_TYPES,
    JOIN_CHANNELS,
    SUBSCRIBER_STATUSES,
)
from weiwan.sim.catalog import BRANCHES, BRANDS, COMPETITORS, DEVICES, plan_ids
from weiwan.sim.context import Context
from weiwan.sim.names import account_managers, chinese_names, id_numbers, msisdns
from weiwan.sim.state import HOLD_KEEP_NUMBER, HOLD_SUSPEND, NON_PAYMENT, OTHER, PORT_OUT, State

#: extra operator columns kept after the contract columns of ``subscribers``
EXTRA_SUBSCRIBER_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("star_level", pa.int64()),
    ("broadband_bundle", pa.string()),
    ("family_members", pa.int64()),
)
_STATUS = pa.array(SUBSCRIBER_STATUSES)


def padded_ids(prefix: str, index: np.ndarray) -> pa.Array:
    """``prefix`` + 10-digit zero-padded index, e.g. ``U0000000042``."""
    digits = pc.utf8_lpad(pc.cast(pa.array(index), pa.string()), 10, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")


def _dates(days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    mask = None if valid is None else ~valid
    return pa.array(days.astype(np.int32), type=pa.date32(), mask=mask)


def _brands(ctx: Context, state: State, rng: np.random.Generator) -> np.ndarray:
    """全球通 for postpaid high spenders, 动感地带 for the young, 神州行 for prepaid mass."""
    p = ctx.profile
    fee = ctx.fees[state.plan]
    n = len(fee)
    premium = ~p.prepaid & ((fee >= 128) | (p.age > 35) & (rng.random(n) < 0.5))
    youth = (p.age < 30) & (rng.random(n) < 0.85)
    brand = np.where(premium, 0, np.where(youth, 1, np.where(p.prepaid, 2, 1)))
    return np.where(rng.random(n) < 0.05, rng.integers(0, 3, n), brand)


def _status(state: State) -> np.ndarray:
    """Status code (index into the contract's SUBSCRIBER_STATUSES) at the delivery date."""
    return np.select(
        [
            state.churn_type == PORT_OUT,
            state.churn_type >= 0,
            state.stage == 3,
            state.stage == 2,
            state.hold == HOLD_KEEP_NUMBER,
            state.hold == HOLD_SUSPEND,
        ],
        [6, 5, 4, 1, 2, 3],
        0,
    )


def _people(ctx: Context, rng: np.random.Generator) -> dict[str, pa.Array]:
    """Name, gender, birth date and ID number, shared by all lines of a customer."""
    p = ctx.profile
    female = p.gender == 1
    owner = pa.array(p.owner)
    home = np.array([b.area_codes[0] for b in BRANCHES])[p.branch]
    every = np.array([code for b in BRANCHES for code in b.area_codes])
    moved = every[rng.integers(0, len(every), len(home))]
    area = np.where(rng.random(len(home)) < 0.6, home, moved)
    ids = id_numbers(rng, area, p.birth_day, female).take(owner)
    no_id = rng.random(len(area)) < 0.03
    return {
        "name": chinese_names(rng, female).take(owner),
        "gender": pa.array(np.array(["M", "F", "U"])[p.gender]),
        "birth_date": _dates(p.birth_day),
        "id_number": pc.if_else(pa.array(no_id), pa.scalar(None, pa.string()), ids),
    }


def subscribers_table(
    ctx: Context, state: State, ids: pa.Array, seed: int, rng: np.random.Generator
) -> pa.Table:
    """One row per line, as of the end of the window, with three extra operator columns."""
    p, n = ctx.profile, len(ctx.profile.age)
    fee = ctx.fees[state.plan]
    roster = account_managers(seed)
    manager = pa.array(
        np.array(roster, dtype=object)[rng.integers(0, len(roster), n)],
        type=pa.string(),
        mask=~p.high_value,
    )
    tenure = (ctx.window.last_day - p.join_day) / 365.25
    score = np.log(p.value) + 0.08 * tenure + rng.normal(0, 0.3, n)
    star = np.digitize(score, [3.0, 3.5, 3.9, 4.3, 4.8, 5.4]) + 1
    has_contract = p.contract_end_day >= 0
    cols: dict[str, pa.Array] = {
        "subscriber_id": ids,
        "msisdn": msisdns(p.global_index, seed),
        "customer_id": padded_ids("K", p.global_index[p.owner]),
        **_people(ctx, rng),
        "region": pa.array([b.region for b in BRANCHES]).take(pa.array(p.branch)),
        "branch": pa.array([b.name for b in BRANCHES]).take(pa.array(p.branch)),
        "brand": pa.array(BRANDS).take(pa.array(_brands(ctx, state, rng))),
        "payment_type": pa.array(np.where(p.prepaid, "prepaid", "postpaid")),
        "plan_id": pa.array(plan_ids()).take(pa.array(state.plan)),
        "plan_monthly_fee": pa.array(fee),
        "join_date": _dates(p.join_day),
        "join_channel": pa.array(JOIN_CHANNELS).take(pa.array(p.join_channel)),
        "contract_end_date": _dates(np.maximum(p.contract_end_day, 0), has_contract),
        "device_model": pa.array([d for d, _ in DEVICES]).take(pa.array(p.device)),
        "device_age_months": pa.array(p.device_age_end),
        "account_manager": manager,
        "status": _STATUS.take(pa.array(_status(state))),
        "status_date": _dates(state.status_day),
        "star_level": pa.array(star.astype(np.int64)),
        "broadband_bundle": pa.array(np.where(p.broadband, "Y", "N")),
        "family_members": pa.array(p.family_members.astype(np.int64)),
    }
    return pa.table(cols)


def churn_table(
    ctx: Context,
    state: State,
    ids: pa.Array,
    rng: np.random.Generator,
    month: int | None = None,
) -> pa.Table:
    """One row per line that left in the window (or in window month ``month`` only); the
    recorded reason is the latent one, noisy."""
    left = state.churn_type >= 0
    idx = np.flatnonzero(left if month is None else left & (state.churn_month == month))
    k = len(idx)
    true = state.churn_reason[idx].astype(np.int64)
    u = rng.random(k)
    noisy = np.select([u < 0.74, u < 0.84, u < 0.95], [true, OTHER, rng.integers(0, 8, k)], -1)
    noisy = np.where((true == NON_PAYMENT) & (u < 0.95), NON_PAYMENT, noisy)
    noisy = np.where((noisy == NON_PAYMENT) & (true != NON_PAYMENT), OTHER, noisy)
    ctype = state.churn_type[idx].astype(np.int64)
    port = ctype == PORT_OUT
    null = pa.scalar(None, pa.string())
    reasons = pa.array(CHURN_REASONS).take(pa.array(np.maximum(noisy, 0)))
    dest = pa.array(COMPETITORS).take(pa.array(ctx.traits.destination[idx]))
    return pa.table(
        {
            "subscriber_id": ids.take(pa.array(idx)),
            "churn_date": _dates(state.churn_day[idx]),
            "churn_type": pa.array(CHURN_TYPES).take(pa.array(ctype)),
            "reason_code": pc.if_else(pa.array(noisy >= 0, type=pa.bool_()), reasons, null),
            "destination_competitor": pc.if_else(pa.array(port, type=pa.bool_()), dest, null),
        }
    )
