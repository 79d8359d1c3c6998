"""Champion–challenger evaluation: each arm against its hold-out and the champion, on closed
outcome windows, one count per subscriber, with intervals that match the literature."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from weiwan.analytics.strategy_evaluation import (
    p_value,
    rate_difference,
    strategy_evaluation,
    wilson,
)
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.strategy_rules import Strategies, arm_of

SNAPSHOT = date(2026, 8, 31)
FIRST, LATER, OPEN = date(2026, 3, 31), date(2026, 4, 30), date(2026, 7, 31)
STRATEGIES = Strategies.model_validate(
    {"champion": "current", "arms": {"current": {}, "bold": {"share": 0.5}}}
)


def test_intervals_match_newcombes_worked_examples() -> None:
    """Newcombe (1998): Wilson's interval of 81/263 is 0.2553–0.3662; the hybrid score
    interval of 56/70 − 48/80 is 0.0524–0.3339."""
    assert wilson(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    diff, low, high = rate_difference(56, 70, 48, 80)
    assert (diff, low, high) == pytest.approx((0.2, 0.0524, 0.3339), abs=1e-4)
    assert p_value(56, 70, 48, 80) < 0.05 < p_value(50, 70, 52, 80)
    assert np.isnan(rate_difference(1, 0, 1, 10)[0]) and np.isnan(wilson(0, 0)[0])


def _decisions(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, dict[str, float]]:
    """Two rounds of decisions for ``n`` subscribers (the second must not count them twice),
    a few first decided too late for their window to close; the true churn of each."""
    ids = [f"S{i:06d}" for i in range(n)]
    arm = [arm_of(s, STRATEGIES) for s in ids]
    held = rng.random(n) < 0.2
    truth = {"current": 0.20, "bold": 0.12}
    churn = {s: 0.26 if h else truth[a] for s, a, h in zip(ids, arm, held, strict=True)}
    rows = []
    for day in (FIRST, LATER):
        for s, a, h in zip(ids, arm, held, strict=True):
            rows.append((s, day, a, bool(h), not h, 10.0 if a == "bold" else 5.0))
    late = [f"L{i:04d}" for i in range(40)]
    rows += [(s, OPEN, arm_of(s, STRATEGIES), False, True, 5.0) for s in late]
    frame = pd.DataFrame(
        rows, columns=["subscriber_id", "snapshot_date", "strategy", "holdout", "action", "cost"]
    )
    frame["trigger_kind"] = "risk"
    care = frame.head(5).assign(trigger_kind="care", strategy="current")  # never counted
    return pd.concat([frame, care], ignore_index=True), churn


@pytest.fixture(scope="module")
def warehouse(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Warehouse, dict[str, Any]]]:
    rng = np.random.default_rng(7)
    decisions, churn = _decisions(rng, 6000)
    left = [s for s, p in churn.items() if rng.random() < p]
    records = pd.DataFrame({"subscriber_id": left, "churn_date": date(2026, 5, 20)})
    path: Path = tmp_path_factory.mktemp("arms") / "wh.duckdb"
    with Warehouse(path, threads=1) as wh:
        wh.con.create_table("decisions", decisions)
        wh.con.create_table("churn_records", records, overwrite=True)
        yield wh, {"decisions": decisions, "left": set(left)}


def test_each_arm_counts_each_subscriber_once_on_closed_windows(
    warehouse: tuple[Warehouse, dict[str, Any]],
) -> None:
    wh, data = warehouse
    table = strategy_evaluation(wh, SNAPSHOT, STRATEGIES)
    assert table is not None
    assert list(table["arm"]) == ["current", "bold"] and list(table["champion"]) == [True, False]
    decisions = data["decisions"]
    first = decisions[(decisions["snapshot_date"] == FIRST) & (decisions["trigger_kind"] == "risk")]
    for row in table.to_dict("records"):
        mine = first[first["strategy"] == row["arm"]]
        treated = mine[~mine["holdout"]]
        held = mine[mine["holdout"]]
        assert row["subscribers"] == len(treated) and row["holdout_subscribers"] == len(held)
        assert row["churned"] == treated["subscriber_id"].isin(data["left"]).sum()
        assert row["holdout_churned"] == held["subscriber_id"].isin(data["left"]).sum()
        assert row["spend"] == pytest.approx(treated["cost"].sum() * 2)  # both rounds' actions
        assert row["acted"] == len(treated)
        late = decisions["subscriber_id"].str.startswith("L")
        assert row["pending"] == (late & (decisions["strategy"] == row["arm"])).sum()
        assert row["churn_low"] < row["churn_rate"] < row["churn_high"]
        assert row["uplift"] == pytest.approx(row["holdout_churn_rate"] - row["churn_rate"])
        assert row["saves"] == pytest.approx(row["uplift"] * row["subscribers"])
        assert row["first_day"] == FIRST and row["last_day"] == OPEN
    assert table.loc[0, "share"] == 0.5 and table.loc[1, "share"] == 0.5
    champion, bold = table.iloc[0], table.iloc[1]
    assert np.isnan(champion["gain"]) and not champion["significant"]
    assert bold["gain"] == pytest.approx(champion["churn_rate"] - bold["churn_rate"])
    # true gain 8 points on ~2 400 a side: found, and both arms beat their hold-out
    assert bold["gain_low"] > 0 and bold["significant"] and bold["p_value"] < 0.001
    assert bold["uplift_significant"] and champion["uplift_significant"]
    assert bold["cost_per_save"] == pytest.approx(bold["spend"] / bold["saves"])


def test_an_equal_challenger_is_not_called_significant(
    warehouse: tuple[Warehouse, dict[str, Any]], tmp_path: Path
) -> None:
    """A/A: the challenger's subscribers churn exactly like the champion's (the same rows
    relabelled by a draw that is independent of churn)."""
    wh, data = warehouse
    decisions = data["decisions"].copy()
    current = decisions[decisions["strategy"] == "current"].copy()
    twin = current.assign(subscriber_id="T" + current["subscriber_id"], strategy="twin")
    churn = wh.table("churn_records").to_pandas()
    twins = churn[churn["subscriber_id"].isin(current["subscriber_id"])]
    strategies = Strategies.model_validate(
        {"champion": "current", "arms": {"current": {}, "twin": {"share": 0.5}}}
    )
    with Warehouse(tmp_path / "aa.duckdb", threads=1) as other:
        other.con.create_table("decisions", pd.concat([current, twin], ignore_index=True))
        other.con.create_table(
            "churn_records",
            pd.concat([twins, twins.assign(subscriber_id="T" + twins["subscriber_id"])]),
            overwrite=True,
        )
        table = strategy_evaluation(other, SNAPSHOT, strategies)
    assert table is not None
    twin_row = table.set_index("arm").loc["twin"]
    assert twin_row["gain"] == pytest.approx(0.0)
    assert twin_row["gain_low"] < 0 < twin_row["gain_high"] and not twin_row["significant"]
    assert twin_row["p_value"] == pytest.approx(1.0)


def test_a_single_arm_history_is_the_champion_against_its_hold_out(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "subscriber_id": ["a", "b", "c"],
            "snapshot_date": [FIRST] * 3,
            "strategy": ["default"] * 3,
            "holdout": [False, False, True],
            "action": [True, True, False],
            "cost": [3.0, 4.0, 5.0],
            "trigger_kind": ["risk"] * 3,
        }
    )
    with Warehouse(tmp_path / "one.duckdb", threads=1) as wh:
        assert strategy_evaluation(wh, SNAPSHOT, Strategies()) is None  # no decisions yet
        wh.con.create_table("decisions", frame)
        wh.con.create_table(
            "churn_records",
            pd.DataFrame({"subscriber_id": ["c"], "churn_date": [LATER]}),
            overwrite=True,
        )
        table = strategy_evaluation(wh, SNAPSHOT, Strategies())
    assert table is not None and list(table["arm"]) == ["default"]
    row = table.to_dict("records")[0]
    figures = ("subscribers", "churned", "holdout_subscribers", "holdout_churned")
    assert [row[k] for k in figures] == [2, 0, 1, 1]
    assert row["uplift"] == pytest.approx(1.0) and row["spend"] == pytest.approx(7.0)
