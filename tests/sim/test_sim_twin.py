"""The operator twin: the history, then one month at a time with the contacts applied."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from weiwan.core.contact_rules import CHANNELS
from weiwan.sim.response import POTENCY, REACH, strength
from weiwan.sim.twin import OperatorTwin

SIZE, HISTORY, MONTHS = 1500, 6, 3


def _twin(seed: int = 9) -> OperatorTwin:
    return OperatorTwin(
        subscribers=SIZE, history_months=HISTORY, months=MONTHS, seed=seed, end_month="2026-04"
    )


def _read(delivery: Path, table: str) -> pd.DataFrame:
    frame: pd.DataFrame = pq.read_table(delivery / "extracts" / f"{table}.parquet").to_pandas()
    return frame


def test_history_then_one_month_per_delivery(tmp_path: Path) -> None:
    twin = _twin()
    first = twin.deliver_history(tmp_path)
    assert first.name == "2026-04" and str(twin.snapshot) == "2026-04-30"
    usage = _read(first, "monthly_usage")
    assert sorted(usage["bill_month"].unique())[-1] == "2026-04"
    assert usage["bill_month"].nunique() == HISTORY
    roster = _read(first, "subscribers")
    assert (roster["join_date"] <= twin.snapshot).all()  # nobody who joins later yet
    campaigns = _read(first, "retention_contacts")
    assert campaigns["contact_date"].max() < twin.snapshot  # none at the month end decided on

    second = twin.advance(tmp_path)
    assert second.name == "2026-05" and str(twin.snapshot) == "2026-05-31"
    assert set(_read(second, "monthly_usage")["bill_month"]) == {"2026-05"}
    later = _read(second, "subscribers").set_index("subscriber_id")
    assert len(later) >= len(roster)
    kept = roster.set_index("subscriber_id")[["name", "msisdn", "account_manager"]]
    # the roster's stable columns are the same in every delivery
    pd.testing.assert_frame_equal(kept, later.loc[kept.index, kept.columns])
    left = _read(second, "churn_records")
    assert left["churn_date"].between(pd.Timestamp("2026-05-01").date(), twin.snapshot).all()
    truth = pq.read_table(second / "truth" / "monthly_truth.parquet").to_pandas()
    assert set(truth["month"]) == {"2026-05"}
    with pytest.raises(RuntimeError):
        twin.deliver_history(tmp_path)


def test_a_cold_start_history_holds_no_former_campaign_and_the_same_operator(
    tmp_path: Path,
) -> None:
    """Without the campaign history the operator is the same (same lines, same usage) and
    delivers no campaign records: the product starts from its priors."""
    warm = _twin().deliver_history(tmp_path / "warm")
    cold_twin = OperatorTwin(
        subscribers=SIZE,
        history_months=HISTORY,
        months=MONTHS,
        seed=9,
        end_month="2026-04",
        campaign_history=False,
    )
    cold = cold_twin.deliver_history(tmp_path / "cold")
    assert len(_read(warm, "retention_contacts")) > 0
    contacts = cold / "extracts" / "retention_contacts.parquet"
    assert not contacts.exists() or pq.read_table(contacts).num_rows == 0
    # the same operator until the first former campaign (at the first month's end) acts
    usage = _read(warm, "monthly_usage")
    opening = usage["bill_month"].min()
    cold_usage = _read(cold, "monthly_usage")
    first = cold_usage[cold_usage["bill_month"] == opening]
    same = usage[usage["bill_month"] == opening]
    assert len(first) > 1000
    pd.testing.assert_frame_equal(first.reset_index(drop=True), same.reset_index(drop=True))


def test_a_contact_changes_next_months_churn_only_for_the_reached(tmp_path: Path) -> None:
    twin = _twin()
    twin.deliver_history(tmp_path)
    prices = twin.prices()
    ids = pd.Series(prices.base.index[:600])
    offers = pd.Series(["discount"] * 600)
    channels = pd.Series(["outbound_call"] * 300 + ["sms"] * 300)
    before = {sid: _p_vol(twin, sid) for sid in ids}
    answer = twin.treat(ids, offers, channels)
    assert 0 < answer.reached.sum() < 600 and answer.accepted.sum() <= answer.reached.sum()
    assert not (answer.accepted & ~answer.reached).any()
    calls = answer.reached[:300].mean()
    assert abs(calls - REACH["outbound_call"]) < 0.1
    for i, sid in enumerate(ids):
        after = _p_vol(twin, sid)
        if not answer.reached[i]:
            assert after == before[sid]
        else:
            channel = channels[i]
            assert after == pytest.approx(answer.p_vol[i])
            full = twin.in_person_p_vol(sid, "discount")
            assert after == pytest.approx(before[sid] - POTENCY[channel] * (before[sid] - full))
    # the truth the twin prices with is the untreated one of the month end
    untouched = ids[~answer.reached].iloc[0]
    assert prices.base[untouched] == pytest.approx(twin.prices().base[untouched])
    # unknown lines, offers and repeats change nothing
    again = twin.treat(
        pd.Series(["nobody", ids[0]]),
        pd.Series(["discount", "nothing"]),
        pd.Series(["outbound_call", "outbound_call"]),
    )
    assert not again.reached.any()
    assert strength(np.array(["outbound_call"]))[0] == REACH["outbound_call"]


def test_every_channel_the_product_contacts_through_can_reach_and_move_someone() -> None:
    """A channel the simulator does not know reaches no one: the loop would price every
    decision through it at nothing (the account manager's call did, until 2026-12-06)."""
    assert set(CHANNELS) <= set(REACH) and set(CHANNELS) <= set(POTENCY)
    assert (strength(np.array(CHANNELS)) > 0).all()


def test_same_seed_same_answers(tmp_path: Path) -> None:
    answers = []
    for run in ("a", "b"):
        twin = _twin(seed=4)
        twin.deliver_history(tmp_path / run)
        ids = pd.Series(twin.prices().base.index[:200])
        answer = twin.treat(ids, pd.Series(["bonus_data"] * 200), pd.Series(["store"] * 200))
        twin.advance(tmp_path / run)
        answers.append(
            (answer.reached, answer.accepted, _read(tmp_path / run / "2026-05", "churn_records"))
        )
    assert (answers[0][0] == answers[1][0]).all() and (answers[0][1] == answers[1][1]).all()
    pd.testing.assert_frame_equal(answers[0][2], answers[1][2])


def _p_vol(twin: OperatorTwin, sid: str) -> float:
    run, row = twin.locate(sid)
    return float(run.state.p_vol[row])
