"""One chunk of lines from profile to extracts: the only loop is over months."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from weiwan.sim.calendar import Window
from weiwan.sim.campaigns import run_campaign
from weiwan.sim.context import make_context
from weiwan.sim.dynamics import init_state, step_month
from weiwan.sim.events import complaints, status_events, surveys
from weiwan.sim.profile import draw_profile
from weiwan.sim.roster import churn_table, padded_ids, subscribers_table
from weiwan.sim.signals import usage_month
from weiwan.sim.traits import draw_traits
from weiwan.sim.truth import monthly_truth, offer_effects, traits_table
from weiwan.sim.writer import Sinks


@dataclass(frozen=True)
class ChunkResult:
    """Counts of one chunk for the run summary."""

    churned: np.ndarray  # per window month
    at_risk: np.ndarray  # lines in service at each month's start


def _usage_table(
    idx: np.ndarray, cols: dict[str, np.ndarray], ids: pa.Array, label: str
) -> pa.Table:
    arrays: dict[str, pa.Array] = {
        "subscriber_id": ids.take(pa.array(idx)),
        "bill_month": pa.array([label]).take(pa.array(np.zeros(len(idx), np.int64))),
    }
    arrays.update({k: pa.array(v) for k, v in cols.items()})
    return pa.table(arrays)


def run_chunk(
    *,
    window: Window,
    seed: int,
    chunk: int,
    start: int,
    size: int,
    sinks: Sinks,
    tick: Callable[[], None],
    campaigns: bool = True,
) -> ChunkResult:
    """Simulate lines ``start … start+size-1`` and append their rows to ``sinks``; with
    ``campaigns``, the operator's earlier retention campaigns run at every month end but the
    last (drawn from their own random stream)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, chunk]))
    campaign_rng = np.random.default_rng(np.random.SeedSequence([seed, chunk, 0xCA4]))
    profile = draw_profile(rng, np.arange(start, start + size, dtype=np.int64), window)
    ctx = make_context(window, profile, draw_traits(rng, profile), seed)
    ids = padded_ids("U", profile.global_index)
    state = init_state(ctx, rng)
    churned = np.zeros(window.months, dtype=np.int64)
    at_risk = np.zeros(window.months, dtype=np.int64)
    for m, label in enumerate(window.labels):
        at_risk[m] = int(state.alive.sum())
        month = step_month(ctx, state, rng, m)
        churned[m] = int(month.churned.sum())
        idx, cols = usage_month(ctx, state, month, rng)
        sinks.extract("monthly_usage", _usage_table(idx, cols, ids, label))
        sinks.extract("status_events", status_events(ctx, month, ids, rng))
        sinks.extract("complaints", complaints(ctx, month, ids, rng))
        sinks.extract("surveys", surveys(ctx, state, month, ids, rng))
        sinks.truth("monthly_truth", monthly_truth(state, ids, label))
        if campaigns and m < window.months - 1:
            sinks.extract("retention_contacts", run_campaign(ctx, state, ids, m, campaign_rng))
        tick()
    sinks.extract("subscribers", subscribers_table(ctx, state, ids, seed, rng))
    sinks.extract("churn_records", churn_table(ctx, state, ids, rng))
    sinks.truth("offer_effects", offer_effects(ctx, state, ids, rng))
    sinks.truth("traits", traits_table(ctx, ids))
    tick()
    return ChunkResult(churned=churned, at_risk=at_risk)
