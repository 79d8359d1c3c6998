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


class ChunkRun:
    """One chunk of lines stepped month by month: its random streams, latent context and
    state (the whole-window run is :func:`run_chunk`; the closed loop steps it one month at a
    time between its decisions)."""

    def __init__(self, *, window: Window, seed: int, chunk: int, start: int, size: int) -> None:
        self.window, self.seed, self.chunk = window, seed, chunk
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, chunk]))
        self.campaign_rng = np.random.default_rng(np.random.SeedSequence([seed, chunk, 0xCA4]))
        self.network_rng = np.random.default_rng(np.random.SeedSequence([seed, chunk, 0x4E7]))
        profile = draw_profile(self.rng, np.arange(start, start + size, dtype=np.int64), window)
        self.ctx = make_context(window, profile, draw_traits(self.rng, profile), seed)
        self.ids = padded_ids("U", profile.global_index)
        self.state = init_state(self.ctx, self.rng)

    def month(self, m: int, sinks: Sinks, *, campaign: bool) -> tuple[int, int]:
        """Step window month ``m`` and append its rows; with ``campaign`` the operator's former
        retention campaign runs at its last day. (lines in service at its start, churned)."""
        ctx, state, rng, ids = self.ctx, self.state, self.rng, self.ids
        label = self.window.labels[m]
        at_risk = int(state.alive.sum())
        month = step_month(ctx, state, rng, m)
        idx, cols = usage_month(ctx, state, month, rng, self.network_rng)
        sinks.extract("monthly_usage", _usage_table(idx, cols, ids, label))
        sinks.extract("status_events", status_events(ctx, month, ids, rng))
        sinks.extract("complaints", complaints(ctx, month, ids, rng))
        sinks.extract("surveys", surveys(ctx, state, month, ids, rng))
        sinks.truth("monthly_truth", monthly_truth(state, ids, label))
        if campaign:
            contacts = run_campaign(ctx, state, ids, m, self.campaign_rng)
            sinks.extract("retention_contacts", contacts)
        return at_risk, int(month.churned.sum())


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
    run = ChunkRun(window=window, seed=seed, chunk=chunk, start=start, size=size)
    churned = np.zeros(window.months, dtype=np.int64)
    at_risk = np.zeros(window.months, dtype=np.int64)
    for m in range(window.months):
        at_risk[m], churned[m] = run.month(m, sinks, campaign=campaigns and m < window.months - 1)
        tick()
    ctx, state, rng, ids = run.ctx, run.state, run.rng, run.ids
    sinks.extract("subscribers", subscribers_table(ctx, state, ids, seed, rng))
    sinks.extract("churn_records", churn_table(ctx, state, ids, rng))
    sinks.truth("offer_effects", offer_effects(ctx, state, ids, rng))
    sinks.truth("traits", traits_table(ctx, ids))
    tick()
    return ChunkResult(churned=churned, at_risk=at_risk)
