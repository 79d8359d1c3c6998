"""The operator simulator's churn behaviour and ground truth: realistic, learnable."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from weiwan.sim import SimulationSummary
from weiwan.sim.calendar import make_window
from weiwan.sim.context import make_context
from weiwan.sim.dynamics import init_state, step_month
from weiwan.sim.profile import draw_profile
from weiwan.sim.signals import usage_month
from weiwan.sim.traits import _responsiveness, draw_traits, expected_responsiveness

from .sim_fixtures import END, one

OFFERS = {"discount", "bonus_data", "device_subsidy", "prepay_and_get", "care_call"}


# --- churn behaviour ------------------------------------------------------------------------


def test_monthly_churn_rate_is_realistic(
    sim_run: tuple[Path, SimulationSummary], sim_db: Any
) -> None:
    summary = sim_run[1]
    assert 0.01 <= summary.monthly_churn_rate <= 0.03
    assert all(0.008 <= r <= 0.035 for r in summary.churn_rate.values())
    assert sum(summary.churned.values()) == summary.rows["churn_records"]
    types = dict(
        sim_db.execute("select churn_type, count(*) from churn_records group by 1").fetchall()
    )
    assert set(types) == {"voluntary", "involuntary", "port_out"}
    assert types["involuntary"] < types["voluntary"] + types["port_out"]


def test_churn_risk_follows_payment_tenure_and_contract(sim_db: Any) -> None:
    by_payment = dict(
        sim_db.execute("""select payment_type,
        avg((c.subscriber_id is not null)::int) from subscribers s
        left join churn_records c using (subscriber_id) group by 1""").fetchall()
    )
    assert by_payment["prepaid"] > 1.2 * by_payment["postpaid"]
    # line-months at risk by months since the contract end (0 = the expiry month)
    rows = sim_db.execute("""with m as (select u.subscriber_id, u.bill_month,
            datediff('month', date_trunc('month', s.contract_end_date),
                     strptime(u.bill_month, '%Y-%m')) as since_end,
            strftime(c.churn_date, '%Y-%m') = u.bill_month as left_now
            from monthly_usage u join subscribers s using (subscriber_id)
            left join churn_records c using (subscriber_id)
            where s.contract_end_date is not null)
        select since_end between 0 and 1 as expiring, since_end < 0 as under,
               avg(coalesce(left_now, false)::int) from m group by all""").fetchall()
    rate = {(e, u): r for e, u, r in rows}
    assert rate[(True, False)] > 1.5 * rate[(False, True)]


def _trend(sim_db: Any, column: str, where: str) -> Any:
    """(mean 3 months before leaving, mean the month before leaving) for churners."""
    return one(
        sim_db,
        f"""select avg({column}) filter (where k = 3),
        avg({column}) filter (where k = 1) from before_churn where {where}""",
    )


def _stayer_trend(sim_db: Any, column: str) -> Any:
    return one(
        sim_db,
        f"""select avg({column}) filter (where bill_month = '2025-08'),
        avg({column}) filter (where bill_month = '2025-10') from monthly_usage
        where subscriber_id not in (select subscriber_id from churn_records)""",
    )


@pytest.mark.parametrize("column", ["offnet_voice_share", "competitor_service_calls"])
def test_rival_signals_rise_before_port_out_not_for_stayers(sim_db: Any, column: str) -> None:
    early, late = _trend(sim_db, column, "churn_type = 'port_out'")
    s_early, s_late = _stayer_trend(sim_db, column)
    assert late > early * 1.04
    assert abs(s_late - s_early) < 0.5 * (late - early)


@pytest.mark.parametrize("column", ["voice_minutes", "data_mb", "distinct_contacts"])
def test_usage_declines_before_voluntary_churn(sim_db: Any, column: str) -> None:
    early, late = _trend(sim_db, column, "churn_type in ('port_out', 'voluntary')")
    s_early, s_late = _stayer_trend(sim_db, column)
    assert late < 0.95 * early
    assert late / early < s_late / s_early - 0.03


def test_port_outs_preceded_by_call_forwarding(sim_db: Any) -> None:
    porters = one(
        sim_db,
        "select avg((call_forwarding_days > 0)::int) from before_churn "
        "where churn_type = 'port_out' and k in (0, 1)",
    )
    stayers = one(
        sim_db,
        "select avg((call_forwarding_days > 0)::int) from monthly_usage "
        "where subscriber_id not in (select subscriber_id from churn_records)",
    )
    assert porters > 4 * stayers
    on_events = one(
        sim_db,
        """select avg((e.subscriber_id is not null)::int) from churn_records c
        left join (select distinct subscriber_id from status_events
                   where event_type = 'call_forwarding_on') e using (subscriber_id)
        where c.churn_type = 'port_out'""",
    )
    assert on_events > 0.5


def test_involuntary_churners_had_arrears_and_suspensions(sim_db: Any) -> None:
    arrears = one(
        sim_db,
        "select avg((arrears_amount > 0)::int) from before_churn "
        "where churn_type = 'involuntary' and k = 1",
    )
    assert arrears > 0.9
    suspended = one(
        sim_db,
        f"""select avg((e.n > 0)::int) from churn_records c
        left join (select subscriber_id, count(*) n from status_events
                   where event_type in ('suspend_arrears', 'pre_disconnect')
                   group by 1) e using (subscriber_id)
        where c.churn_type = 'involuntary'
          and c.churn_date >= date '{END}-01' - interval 8 month""",
    )
    assert suspended > 0.85
    reasons = one(
        sim_db,
        "select avg((reason_code = 'non_payment')::int) from churn_records "
        "where churn_type = 'involuntary'",
    )
    assert reasons > 0.85
    stayers = one(
        sim_db,
        "select avg((arrears_amount > 0)::int) from monthly_usage where "
        "subscriber_id not in (select subscriber_id from churn_records)",
    )
    assert stayers < 0.05


def test_complaints_and_low_scores_precede_churn(sim_db: Any) -> None:
    # complaints per line-month: churners' last three months vs stayers' months
    rate = one(
        sim_db,
        """with m as (select u.subscriber_id, u.bill_month, b.k,
            exists (select 1 from complaints c where c.subscriber_id = u.subscriber_id
                    and strftime(c.complaint_time, '%Y-%m') = u.bill_month) as complained
            from monthly_usage u left join before_churn b
            on b.subscriber_id = u.subscriber_id and b.bill_month = u.bill_month)
        select avg(complained::int) filter (where k between 1 and 3),
               avg(complained::int) filter (where k is null) from m""",
    )
    assert rate[0] > 1.3 * rate[1]
    score = one(
        sim_db,
        """select corr(v.score, t.satisfaction) from surveys v
                       join traits t using (subscriber_id)""",
    )
    assert score > 0.25


def test_arpu_is_skewed(sim_db: Any) -> None:
    share = one(
        sim_db,
        """with r as (select subscriber_id, sum(bill_amount) v from monthly_usage
        group by 1), d as (select v, ntile(10) over (order by v desc) dec from r)
        select sum(v) filter (where dec = 1) / sum(v) from d""",
    )
    assert share > 0.25


# --- ground truth ---------------------------------------------------------------------------


def test_truth_layout(sim_run: tuple[Path, SimulationSummary], sim_db: Any) -> None:
    out = sim_run[0]
    truth = pq.read_table(out / "truth" / "monthly_truth.parquet")
    assert truth.column_names == ["subscriber_id", "month", "p_churn_next", "reason"]
    p = truth.column("p_churn_next").to_numpy()
    assert (p >= 0).all() and (p <= 1).all()
    assert (
        one(sim_db, "select count(*) - count(distinct (subscriber_id, month)) from monthly_truth")
        == 0
    )
    # one row per line in service at each month end: used that month, not churned in it
    expected = one(
        sim_db,
        """select count(*) from monthly_usage u left join churn_records c
        on u.subscriber_id = c.subscriber_id
        and u.bill_month = strftime(c.churn_date, '%Y-%m') where c.subscriber_id is null""",
    )
    assert truth.num_rows == expected
    assert one(sim_db, f"select count(*) from monthly_truth where month = '{END}'") == one(
        sim_db,
        "select count(*) from subscribers where status not in ('disconnected', 'ported_out')",
    )
    effects = pq.read_table(out / "truth" / "offer_effects.parquet")
    assert effects.column_names == [
        "subscriber_id",
        "offer_type",
        "p_churn_next_if_treated",
        "p_churn_next_if_treated_expected",
    ]
    assert set(pc.unique(effects.column("offer_type")).to_pylist()) == OFFERS
    last = one(sim_db, f"select count(*) from monthly_truth where month = '{END}'")
    assert effects.num_rows == 5 * last
    pq.read_table(out / "truth" / "traits.parquet")


def test_offer_effects_are_heterogeneous(sim_db: Any) -> None:
    rows = sim_db.execute(f"""select e.offer_type, t.reason,
            avg(e.p_churn_next_if_treated / nullif(t.p_churn_next, 0)) ratio,
            avg((e.p_churn_next_if_treated > t.p_churn_next)::int) up,
            avg((e.p_churn_next_if_treated >= t.p_churn_next * 0.97)::int) unmoved
        from offer_effects e join monthly_truth t
        on e.subscriber_id = t.subscriber_id and t.month = '{END}'
        group by all""").fetchall()
    ratio = {(o, r): v for o, r, v, _, _ in rows}
    assert ratio[("discount", "price")] < ratio[("discount", "network_quality")] - 0.1
    assert ratio[("care_call", "service")] < ratio[("care_call", "price")] - 0.1
    assert ratio[("device_subsidy", "contract_end")] < ratio[("device_subsidy", "service")]
    up = one(
        sim_db,
        f"""select avg((e.p_churn_next_if_treated > t.p_churn_next)::int)
        from offer_effects e join monthly_truth t
        on e.subscriber_id = t.subscriber_id and t.month = '{END}'
        where e.offer_type = 'discount' and t.reason <> 'non_payment'""",
    )
    assert 0.02 < up < 0.07
    moved = one(
        sim_db,
        f"""select avg((e.p_churn_next_if_treated < 0.9 * t.p_churn_next)::int)
        from offer_effects e join monthly_truth t
        on e.subscriber_id = t.subscriber_id and t.month = '{END}'
        where e.offer_type = 'discount' and t.reason in ('price', 'competitor_offer')""",
    )
    assert moved > 0.6


def test_the_expected_effects_average_the_true_ones_over_what_no_record_shows(
    sim_db: Any,
) -> None:
    """Per offer type and reason, the expected effect is the true effect's mean (each line's
    personal draws average out over thousands of lines), yet a line's true effect strays from
    its expectation by those draws."""
    rows = sim_db.execute(f"""select e.offer_type, t.reason, count(*) n,
            avg(t.p_churn_next - e.p_churn_next_if_treated) true_cut,
            avg(t.p_churn_next - e.p_churn_next_if_treated_expected) expected_cut,
            corr(e.p_churn_next_if_treated, e.p_churn_next_if_treated_expected) r
        from offer_effects e join monthly_truth t
        on e.subscriber_id = t.subscriber_id and t.month = '{END}'
        where t.reason in ('price', 'service', 'competitor_offer', 'contract_end')
        group by all having count(*) > 1000""").fetchall()
    assert len(rows) >= 8
    for offer, reason, _, true_cut, expected_cut, r in rows:
        assert expected_cut == pytest.approx(true_cut, rel=0.15, abs=2e-4), (offer, reason)
        assert r < 0.9999, (offer, reason)  # the personal draws are not in the expectation


def test_expected_responsiveness_is_the_mean_over_the_personal_draws() -> None:
    """The same 2 000 lines (traits and profile fixed) drawn 300 times over: the mean of their
    receptiveness per offer type is what expected_responsiveness says, line by line."""
    rng = np.random.default_rng(3)
    profile = draw_profile(rng, np.arange(2_000, dtype=np.int64), make_window("2025-06", 6))
    traits = draw_traits(rng, profile)
    draws = [
        _responsiveness(np.random.default_rng(k), traits.price_sensitivity, traits.data, profile)
        for k in range(300)
    ]
    expected = expected_responsiveness(traits, profile)
    mean = np.mean(draws, axis=0)
    # unbiased per offer type (a standard error ~0.0003 over 2 000 lines; leaving out the
    # unmoved would be 0.04 off), and no line far from its own mean (~0.014 a standard error)
    assert np.abs((mean - expected).mean(axis=0)).max() < 0.002
    assert np.abs(mean - expected).max() < 0.08
    spread = np.std([d[:, 0] for d in draws], axis=0)
    assert spread.mean() > 0.05  # while each draw strays from it


def _auc(score: np.ndarray, label: np.ndarray) -> float:
    order = np.argsort(score, kind="stable")
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    pos = int(label.sum())
    neg = len(label) - pos
    return float((ranks[label].sum() - pos * (pos + 1) / 2) / (pos * neg))


def test_true_probability_is_learnable_but_not_trivial(sim_db: Any) -> None:
    rows = sim_db.execute(f"""select t.p_churn_next,
            coalesce(strftime(c.churn_date, '%Y-%m')
                     = strftime(strptime(t.month, '%Y-%m') + interval 1 month, '%Y-%m'), false)
        from monthly_truth t left join churn_records c using (subscriber_id)
        where t.month < '{END}'""").fetchall()
    p = np.array([r[0] for r in rows])
    y = np.array([r[1] for r in rows], dtype=bool)
    assert 0.75 < _auc(p, y) < 0.97
    assert abs(p.mean() - y.mean()) < 0.15 * y.mean()  # the truth is calibrated


# --- network experience -------------------------------------------------------------------


def test_dropped_calls_show_the_network_failures_complained_of_or_not() -> None:
    """A month's network failure shows in the line's dropped calls whether or not it complained;
    the countryside drops more calls than towns; a line that made no call drops none. The
    counts come from their own random stream: every other usage column is drawn as before."""
    window = make_window("2025-06", 3)
    rng = np.random.default_rng(5)
    profile = draw_profile(rng, np.arange(30_000, dtype=np.int64), window)
    ctx = make_context(window, profile, draw_traits(rng, profile), 5)
    state = init_state(ctx, rng)
    month = step_month(ctx, state, rng, 0)
    start, kept = rng.bit_generator.state, copy.deepcopy((state, month))  # usage moves balances
    idx, cols = usage_month(ctx, state, month, rng, np.random.default_rng(1))
    rng.bit_generator.state = start
    again_idx, again = usage_month(ctx, *kept, rng, np.random.default_rng(2))
    assert np.array_equal(idx, again_idx)
    assert all(np.array_equal(cols[c], again[c]) for c in cols if c != "dropped_calls")
    assert not np.array_equal(cols["dropped_calls"], again["dropped_calls"])
    drops, voice = cols["dropped_calls"], cols["voice_minutes"]
    failed = month.net_fail[idx]
    silent = failed & ~month.complaint[idx]
    calling = voice > 50
    assert silent.sum() > 0.5 * failed.sum()  # most failures bring no complaint
    assert drops[silent & calling].mean() > 4 * drops[~failed & calling].mean()
    rural = profile.rural[idx].astype(bool)
    ok = ~failed & calling
    assert drops[ok & rural].mean() > 1.5 * drops[ok & ~rural].mean()
    assert (drops[voice == 0] == 0).all()


def test_network_quality_leavers_had_more_dropped_calls(sim_db: Any) -> None:
    leavers = one(
        sim_db,
        """select avg(dropped_calls) from before_churn b
        join churn_records c using (subscriber_id)
        where c.reason_code = 'network_quality' and k between 0 and 2""",
    )
    stayers = one(
        sim_db,
        """select avg(dropped_calls) from monthly_usage
        where subscriber_id not in (select subscriber_id from churn_records)""",
    )
    assert leavers > 2 * stayers
