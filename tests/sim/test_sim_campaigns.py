"""The operator's earlier retention campaigns: their records and their true effect on churn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc

from weiwan.analytics.contract import OFFER_TYPES
from weiwan.sim import SimulationSummary
from weiwan.sim.calendar import make_window
from weiwan.sim.campaigns import CAMPAIGN_SHARE, HOLDOUT_SHARE, run_campaign
from weiwan.sim.context import make_context
from weiwan.sim.dynamics import init_state
from weiwan.sim.profile import draw_profile
from weiwan.sim.roster import padded_ids
from weiwan.sim.traits import draw_traits
from weiwan.sim.truth import OFFER_MATCH

from .sim_fixtures import MONTHS, one, read


def test_every_month_but_the_last_has_a_campaign_with_a_holdout(
    sim_run: tuple[Path, SimulationSummary], sim_db: Any
) -> None:
    records = read(sim_run, "retention_contacts")
    assert sim_run[1].rows["retention_contacts"] == records.num_rows > 0
    assert len(set(records["contact_id"].to_pylist())) == records.num_rows
    assert set(records["offer_type"].to_pylist()) == set(OFFER_TYPES)
    held = float(pc.mean(records["holdout"].cast("int8")).as_py())
    assert abs(held - HOLDOUT_SHARE) < 0.03
    per_month = sim_db.execute("""
        select strftime(r.contact_date, '%Y-%m') as month, count(*) as n,
               count(distinct r.subscriber_id) as lines,
               bool_and(r.contact_date = last_day(r.contact_date)) as month_end
        from retention_contacts r group by 1 order by 1
    """).fetchall()
    assert len(per_month) == MONTHS - 1
    for month, n, lines, month_end in per_month:
        alive = one(sim_db, f"select count(*) from monthly_truth where month = '{month}'")
        assert n == lines and month_end
        assert abs(n / alive - CAMPAIGN_SHARE) < 0.005
    # only lines in service at the month end are contacted, the riskier ones more often
    stale = one(
        sim_db,
        """select count(*) from retention_contacts r left join monthly_truth t
           on t.subscriber_id = r.subscriber_id
          and t.month = strftime(r.contact_date, '%Y-%m')
           where t.subscriber_id is null""",
    )
    assert stale == 0
    risk_taken, risk_all = one(
        sim_db,
        """select (select avg(t.p_churn_next) from retention_contacts r join monthly_truth t
                     on t.subscriber_id = r.subscriber_id
                    and t.month = strftime(r.contact_date, '%Y-%m')),
                  (select avg(p_churn_next) from monthly_truth)""",
    )
    assert risk_taken > 1.5 * risk_all


def test_a_campaign_changes_next_months_risk_of_the_contacted_only() -> None:
    """Contacted lines take their true treated probability (cut by how the offer meets their
    reason, raised for sleeping dogs); held-out and other lines keep theirs."""
    rng = np.random.default_rng(11)
    window = make_window("2025-06", 6)
    profile = draw_profile(rng, np.arange(20_000, dtype=np.int64), window)
    ctx = make_context(window, profile, draw_traits(rng, profile), 11)
    state = init_state(ctx, rng)
    before = state.p_vol.copy()
    records = run_campaign(ctx, state, padded_ids("U", profile.global_index), 0, rng)
    ids = np.array([int(s[1:]) for s in records["subscriber_id"].to_pylist()])
    held = np.array(records["holdout"].to_pylist())
    offers = np.array([OFFER_TYPES.index(o) for o in records["offer_type"].to_pylist()])
    contacted = ids[~held]
    untouched = np.setdiff1d(np.arange(len(before)), contacted)
    assert np.array_equal(state.p_vol[untouched], before[untouched])
    dogs = ctx.traits.sleeping_dog[contacted]
    assert (state.p_vol[contacted][dogs] > before[contacted][dogs]).all()
    calm = contacted[~dogs]
    reason = state.reason[calm].astype(np.int64)
    match = OFFER_MATCH[reason, offers[~held][~dogs]]
    cut = 1 - state.p_vol[calm] / np.maximum(before[calm], 1e-12)
    assert (cut >= -1e-12).all() and (cut <= 0.7 + 1e-9).all()
    # better-matched offers cut more, on average
    assert cut[match >= 0.7].mean() > cut[match <= 0.2].mean() + 0.1
