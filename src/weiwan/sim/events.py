"""Month tables of discrete records: status events, complaints and surveys."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from weiwan.analytics.contract import (
    COMPLAINT_CATEGORIES,
    SEVERITIES,
    STATUS_EVENT_TYPES,
    TOUCHPOINTS,
)
from weiwan.sim.catalog import plan_ids
from weiwan.sim.context import Context
from weiwan.sim.state import Month, State
from weiwan.sim.transitions import EV

_DAY = 86_400
_LATE_EVENTS = (EV["call_forwarding_off"],)


def timestamps(
    ctx: Context, m: int, dom: np.ndarray, rng: np.random.Generator, late: np.ndarray | None = None
) -> pa.Array:
    """Seconds-resolution timestamps on day-of-month ``dom``; daytime, or 23h when ``late``."""
    day = ctx.window.start_days[m] + dom - 1
    secs = rng.integers(8 * 3600, 22 * 3600, len(dom))
    if late is not None:
        secs = np.where(late, rng.integers(23 * 3600, _DAY, len(dom)), secs)
    return pa.array(day * _DAY + secs, type=pa.timestamp("s"))


def _record_ids(prefix: str, label: str, global_index: np.ndarray) -> pa.Array:
    """Ids like ``TS202501`` + zero-padded global line index (one record per line-month)."""
    digits = pc.utf8_lpad(pc.cast(pa.array(global_index), pa.string()), 10, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix + label.replace("-", "")), digits, "")


def status_events(ctx: Context, month: Month, ids: pa.Array, rng: np.random.Generator) -> pa.Table:
    """The month's status events, in time order."""
    ev = month.events
    rows = np.concatenate(ev.rows) if ev.rows else np.zeros(0, np.int64)
    dom = np.concatenate(ev.days) if ev.days else np.zeros(0, np.int64)
    types = np.concatenate(ev.types) if ev.types else np.zeros(0, np.int64)
    plans = np.concatenate(ev.plans) if ev.plans else np.zeros(0, np.int64)
    times = timestamps(ctx, month.index, dom, rng, np.isin(types, _LATE_EVENTS))
    order = np.lexsort((types, rows, times.to_numpy()))
    names = pa.array(STATUS_EVENT_TYPES).take(pa.array(types[order]))
    detail = pa.array(plan_ids()).take(pa.array(np.where(plans < 0, 0, plans)[order]))
    detail = pc.if_else(pa.array(plans[order] >= 0), detail, pa.scalar(None, pa.string()))
    return pa.table(
        {
            "subscriber_id": ids.take(pa.array(rows[order])),
            "event_time": times.take(pa.array(order)),
            "event_type": names,
            "detail": detail,
        }
    )


def complaints(ctx: Context, month: Month, ids: pa.Array, rng: np.random.Generator) -> pa.Table:
    """One row per complaint raised during the month."""
    idx = np.flatnonzero(month.complaint & month.present)
    sev = month.complaint_severity[idx]
    resolved = month.complaint_resolved[idx]
    hours = np.round(rng.lognormal(np.log(18.0), 0.9, len(idx)) * (1 + 0.5 * sev), 1)
    label = ctx.window.labels[month.index]
    return pa.table(
        {
            "complaint_id": _record_ids("TS", label, ctx.profile.global_index[idx]),
            "subscriber_id": ids.take(pa.array(idx)),
            "complaint_time": timestamps(ctx, month.index, month.complaint_dom[idx], rng),
            "category": pa.array(COMPLAINT_CATEGORIES).take(
                pa.array(month.complaint_category[idx])
            ),
            "severity": pa.array(SEVERITIES).take(pa.array(sev)),
            "resolved": pa.array(resolved),
            "hours_to_resolve": pa.array(hours, mask=~resolved),
        }
    )


def surveys(
    ctx: Context, state: State, month: Month, ids: pa.Array, rng: np.random.Generator
) -> pa.Table:
    """Satisfaction surveys: a few % of lines a month, more after a complaint."""
    n = len(month.present)
    asked = month.present & (rng.random(n) < 0.025 + 0.25 * month.complaint)
    idx = np.flatnonzero(asked)
    intent = state.intent[idx].astype(np.float64)
    mood = (
        ctx.traits.satisfaction[idx]
        - 0.12 * (intent[:, 1] + intent[:, 2])
        - 0.04 * (intent.sum(axis=1))
    )
    score = np.clip(np.rint(10.5 * mood + 1.2 + rng.normal(0.0, 1.3, len(idx))), 0, 10)
    by_category = np.array([2, 3, 1, 1, 1])  # network→network, billing→billing, else hotline
    usual = rng.choice(4, len(idx), p=[0.35, 0.3, 0.2, 0.15])
    touch = np.where(month.complaint[idx], by_category[month.complaint_category[idx]], usual)
    first, last = month.first_dom[idx], month.last_dom[idx]
    dom = first + (rng.random(len(idx)) * (last - first + 1)).astype(np.int64)
    label = ctx.window.labels[month.index]
    return pa.table(
        {
            "survey_id": _record_ids("DY", label, ctx.profile.global_index[idx]),
            "subscriber_id": ids.take(pa.array(idx)),
            "survey_time": timestamps(ctx, month.index, dom, rng),
            "touchpoint": pa.array(TOUCHPOINTS).take(pa.array(touch)),
            "score": pa.array(score.astype(np.int64)),
        }
    )
