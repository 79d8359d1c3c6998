"""A simulated operator run forward one month at a time, treated in between (the closed loop).

:func:`weiwan.sim.simulate` writes a whole window at once. The twin first delivers the history
(every table, as ``simulate`` does, with the operator's former campaigns), then waits at each
month end: the product decides, the contacts made are applied (:meth:`OperatorTwin.treat`, each
with its true effect on that subscriber, :mod:`weiwan.sim.response`), and
:meth:`OperatorTwin.advance` simulates the next month and writes its delivery (that month's
usage, events, complaints and surveys, the roster as of its end, the lines that left in it and
any campaign records handed in). Deliveries are folders ``<out>/<YYYY-MM>/extracts`` that
``weiwan ingest`` loads one after another (a key's latest delivery wins); each has its truth
beside it (``truth/``: that month end's true churn probabilities and offer effects), and the
twin prices contacts with the truth of its current month end (:meth:`OperatorTwin.prices`).
Same arguments, same deliveries and answers.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from weiwan.sim.calendar import make_window, parse_month
from weiwan.sim.catalog import OFFER_TYPES
from weiwan.sim.engine import ChunkRun
from weiwan.sim.response import Response, respond
from weiwan.sim.roster import EXTRA_SUBSCRIBER_COLUMNS, churn_table, subscribers_table
from weiwan.sim.strategy_value import TruthPrices
from weiwan.sim.truth import (
    churn_either,
    effects_table,
    expected_treated_p_vol,
    traits_table,
    treated_p_vol,
)
from weiwan.sim.writer import Sinks

_EPOCH = date(1970, 1, 1)
_OFFER_CODE = {offer: i for i, offer in enumerate(OFFER_TYPES)}


class OperatorTwin:
    """``subscribers`` lines with ``history_months`` months delivered up to ``end_month``, then
    ``months − 1`` more months simulated one at a time (``months`` month ends to decide at)."""

    def __init__(
        self,
        *,
        subscribers: int,
        history_months: int,
        months: int,
        seed: int,
        end_month: str,
        chunk_size: int = 500_000,
        campaign_history: bool = True,
    ) -> None:
        if subscribers < 1 or history_months < 2 or months < 1:
            raise ValueError("need subscribers ≥ 1, history_months ≥ 2 and months ≥ 1")
        last = str(parse_month(end_month) + (months - 1))
        self.window = make_window(last, history_months + months - 1)
        self.history_months, self.seed = history_months, seed
        #: whether the history holds the operator's former campaigns (with hold-outs): without,
        #: the product starts from its priors and learns from its own outcomes only
        self.campaign_history = campaign_history
        self.runs = [
            ChunkRun(
                window=self.window,
                seed=seed,
                chunk=c,
                start=start,
                size=min(chunk_size, subscribers - start),
            )
            for c, start in enumerate(range(0, subscribers, chunk_size))
        ]
        self._where = pd.concat(
            [
                pd.DataFrame({"chunk": c, "row": np.arange(len(run.ids))}, run.ids.to_pylist())
                for c, run in enumerate(self.runs)
            ]
        )
        self._response_rng = np.random.default_rng(np.random.SeedSequence([seed, 0x7E5]))
        self._effects: list[np.ndarray] = []  # per chunk: treated p_vol (lines × offer types)
        self._expected: list[np.ndarray] = []  # the same averaged over what no record shows
        self.m = -1  # the last month simulated

    @property
    def label(self) -> str:
        """The current month, ``YYYY-MM``."""
        return self.window.labels[self.m]

    @property
    def snapshot(self) -> date:
        """The current month's last day (the delivery date)."""
        w = self.window
        return _EPOCH + timedelta(days=int(w.start_days[self.m] + w.lengths[self.m] - 1))

    def deliver_history(self, out: Path) -> Path:
        """Simulate the history months (the former campaigns at every month end but the last,
        unless ``campaign_history`` is off) and write their delivery; the delivery folder."""
        if self.m >= 0:
            raise RuntimeError("the history is delivered once, first")
        sinks = self._open(out, self.window.labels[self.history_months - 1])
        try:
            for m in range(self.history_months):
                former = self.campaign_history and m < self.history_months - 1
                for run in self.runs:
                    run.month(m, sinks, campaign=former)
                self.m = m
            self._month_end(sinks, first=True)
        finally:
            sinks.close()
        return sinks.extracts_dir.parent

    def advance(self, out: Path, contacts: pa.Table | None = None) -> Path:
        """Simulate the next month and write its delivery, with ``contacts`` (contract
        ``retention_contacts``) among its extracts; the delivery folder."""
        if self.m < 0:
            raise RuntimeError("deliver the history first")
        if self.m + 1 >= self.window.months:
            raise RuntimeError("the twin's last month is simulated already")
        sinks = self._open(out, self.window.labels[self.m + 1])
        try:
            self.m += 1
            for run in self.runs:
                run.month(self.m, sinks, campaign=False)
            if contacts is not None:
                sinks.extract("retention_contacts", contacts)
            self._month_end(sinks, first=False)
        finally:
            sinks.close()
        return sinks.extracts_dir.parent

    def prices(self) -> TruthPrices:
        """The truth of the current month end: each line's P(churn next month) untreated and
        if offered each offer type in person."""
        base: list[pd.Series] = []
        treated: list[pd.Series] = []
        expected: list[pd.Series] = []
        for run, effects, mean in zip(self.runs, self._effects, self._expected, strict=True):
            alive = np.flatnonzero(run.state.alive)
            ids = run.ids.take(pa.array(alive)).to_pylist()
            invol = run.state.p_invol[alive]
            base.append(pd.Series(churn_either(run.state.p_vol[alive], invol), ids))
            keys = pd.MultiIndex.from_product([ids, list(OFFER_TYPES)])
            for out, p_vol in ((treated, effects), (expected, mean)):
                p = churn_either(p_vol[alive], invol[:, None])
                out.append(pd.Series(p.reshape(-1), index=keys))
        return TruthPrices(pd.concat(base), pd.concat(treated), pd.concat(expected))

    def treat(
        self, subscriber_ids: pd.Series, offer_types: pd.Series, channels: pd.Series
    ) -> Response:
        """Contact these lines with these offers through these channels at the current month
        end: who is reached and accepts is drawn, and next month's churn probability of the
        reached takes the effect (unknown lines and offer types, and repeats, change nothing)."""
        where = self._where.reindex(subscriber_ids.to_numpy())
        chunk = where["chunk"].fillna(-1).to_numpy(int)
        row = where["row"].fillna(-1).to_numpy(int)
        offer = offer_types.map(_OFFER_CODE).fillna(-1).to_numpy(int)
        valid = (row >= 0) & (offer >= 0) & ~pd.Series(subscriber_ids.to_numpy()).duplicated()
        valid = np.asarray(valid)
        base, treated = np.zeros(len(row)), np.zeros(len(row))
        for c, (run, effects) in enumerate(zip(self.runs, self._effects, strict=True)):
            mine = np.flatnonzero(valid & (chunk == c))
            in_service = run.state.alive[row[mine]]
            valid[mine[~in_service]] = False
            live = mine[in_service]
            base[live] = run.state.p_vol[row[live]]
            treated[live] = effects[row[live], offer[live]]
        answer = respond(self._response_rng, channels.to_numpy(str), base, treated)
        reached, accepted = answer.reached & valid, answer.accepted & valid
        for c, run in enumerate(self.runs):
            mine = reached & (chunk == c)
            run.state.p_vol[row[mine]] = answer.p_vol[mine]
        return Response(reached=reached, accepted=accepted, p_vol=answer.p_vol)

    def locate(self, subscriber_id: str) -> tuple[ChunkRun, int]:
        """The chunk a line is simulated in and its row there (KeyError: unknown line)."""
        chunk, row = self._where.loc[[subscriber_id]].to_numpy(int)[0]
        return self.runs[chunk], int(row)

    def in_person_p_vol(self, subscriber_id: str, offer_type: str) -> float:
        """The line's voluntary churn probability next month if offered ``offer_type`` in
        person at the current month end (the truth's offer effect)."""
        run, row = self.locate(subscriber_id)
        return float(self._effects[self.runs.index(run)][row, _OFFER_CODE[offer_type]])

    def _open(self, out: Path, label: str) -> Sinks:
        sinks = Sinks(out / label, "parquet", {"subscribers": EXTRA_SUBSCRIBER_COLUMNS})
        sinks.open_extracts()
        return sinks

    def _month_end(self, sinks: Sinks, *, first: bool) -> None:
        """The roster as of the month end, the lines that left (all so far on the first
        delivery), and the truth of the month end."""
        last_day = (self.snapshot - _EPOCH).days
        self._effects, self._expected = [], []
        for run in self.runs:
            # the roster's stable columns (names, managers, ...) drawn alike in every delivery
            roster_rng = np.random.default_rng(np.random.SeedSequence([self.seed, run.chunk, 5]))
            roster = subscribers_table(run.ctx, run.state, run.ids, self.seed, roster_rng)
            joined = run.ctx.profile.join_day <= last_day
            sinks.extract("subscribers", roster.filter(pa.array(joined)))
            month = None if first else self.m
            sinks.extract("churn_records", churn_table(run.ctx, run.state, run.ids, run.rng, month))
            lines = np.arange(len(run.ids))
            grid, offers = np.meshgrid(lines, np.arange(len(OFFER_TYPES)), indexing="ij")
            self._effects.append(treated_p_vol(run.ctx, run.state, grid, offers, run.rng))
            self._expected.append(expected_treated_p_vol(run.ctx, run.state, grid, offers))
            alive = np.flatnonzero(run.state.alive)
            table = effects_table(
                run.ids,
                alive,
                self._effects[-1][alive],
                run.state.p_invol,
                self._expected[-1][alive],
            )
            sinks.truth("offer_effects", table)
            if first:
                sinks.truth("traits", traits_table(run.ctx, run.ids))
