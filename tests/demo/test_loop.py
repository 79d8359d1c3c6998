"""The closed loop: a simulated operator run for months through the whole product.

3,000 subscribers, 8 months of history, 2 month ends (the benchmark runs 100,000 x 6): enough
for next best action to act in the first month, its tasks to be worked through the
operational service, and those contacts to come back into the warehouse the next month.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from model_fixtures import train_on_the_15th_only
from weiwan.analytics.policies import load_policies
from weiwan.analytics.warehouse import Warehouse
from weiwan.cli import app
from weiwan.cli.base import last_complete_month, out
from weiwan.cli.demo import print_loop
from weiwan.core.settings import get_settings
from weiwan.demo.loop import ArmFigures, LoopResult, arm_of, first_month, size_policy_budgets
from weiwan.demo.strategy_check import eligible_pool, permitted


def test_a_loop_too_small_for_a_model_is_told_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEIWAN_HOME", str(tmp_path))
    get_settings.cache_clear()
    args = ["simulate", "loop", "--subscribers", "1000", "--months", "1", "--seed", "5"]
    result = CliRunner().invoke(app, [*args, "--json"])
    get_settings.cache_clear()
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    error = json.loads(result.stdout)["error"]
    assert error.startswith("no next best action on ") and "too few churners" in error


def test_the_loop_runs_the_product_month_by_month(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEIWAN_HOME", str(tmp_path / "home"))
    train_on_the_15th_only(monkeypatch)
    get_settings.cache_clear()
    out = tmp_path / "loop"
    args = ["simulate", "loop", "--subscribers", "3000", "--months", "2", "--history", "8"]
    result = CliRunner().invoke(app, [*args, "--seed", "5", "--out", str(out), "--json"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    print(json.dumps(figures))
    last = last_complete_month()
    assert figures["months"] == [first_month(last, 2), last]
    nba, top = figures["arms"]["nba"], figures["arms"]["top_risk"]
    assert len(nba["saved"]) == len(nba["oracle"]) == len(nba["evidence_oracle"]) == 2
    assert len(top["spent"]) == 2
    assert nba["spent"][0] > 0 and nba["treated"][0] > 0
    for month in range(2):  # the baseline never spends more than next best action did
        assert top["spent"][month] <= nba["spent"][month] + 1e-6
        assert nba["oracle"][month] >= 0
        # knowing only what the features show is no better than knowing the truth (both are
        # greedy by their own ratio: a little slack)
        assert nba["evidence_oracle"][month] <= nba["oracle"][month] * 1.05 + 1e-6
        # the oracle keeps the operator's rules; the one that may break them does no worse
        assert nba["oracle"][month] <= nba["oracle_unruled"][month] * 1.05 + 1e-6
        # not knowing the personal draws costs the latent oracle, yet it keeps saving
        assert 0 < nba["latent_oracle"][month] <= nba["oracle"][month] * 1.05 + 1e-6
        # the same contacts' saving without the personal draws: a different figure from the
        # realised one, of the same contacts (nothing saved where nothing was spent)
        for arm in (nba, top):
            assert arm["saved_expected"][month] is not None
            if arm["treated"][month] == 0:
                assert arm["saved_expected"][month] == arm["saved"][month] == 0
        assert nba["saved_expected"][month] != nba["saved"][month]
    assert top["treated"][0] > 0 and top["saved"][0] != 0
    assert len(figures["uplift_qini"]) == 2
    # the operator's library, its budgets sized to its 3 000 subscribers, is the one in effect
    assert (out / "home" / "config" / "policies.yaml").is_file()

    # the first month's tasks were worked through the operational service ...
    worked = figures["operations"][0]["tasks"]
    assert worked > 0 and figures["operations"][0]["reached"] > 0
    ops = sa.create_engine(f"sqlite:///{out / 'operations.sqlite'}")
    with ops.connect() as conn:
        first = conn.execute(
            sa.text(
                "select count(*) from contacts c join tasks t on t.id = c.task_id "
                "where t.origin like :origin"
            ),
            {"origin": f"decision:{figures['months'][0]}-%"},
        ).scalar_one()
    ops.dispose()
    assert first == worked
    # ... only for the nba arm, came back into the warehouse the next month, and the
    # baseline's contacts were delivered as the operator's campaign records
    wh = duckdb.connect(str(out / "warehouse.duckdb"), read_only=True)
    try:
        collected = wh.execute(
            "select subscriber_id from ops_contacts where task_id is not null"
        ).fetchall()
        records = wh.execute(
            "select count(*) from retention_contacts where campaign = ?",
            [f"top-risk-{figures['months'][0]}"],
        ).fetchone()
        decided = wh.execute("select count(distinct snapshot_date) from decisions").fetchone()
    finally:
        wh.close()
    ids = pd.Series([row[0] for row in collected])
    assert len(ids) >= worked and set(arm_of(ids)) == {"nba"}
    assert records is not None and records[0] == top["treated"][0]
    assert decided is not None and decided[0] == 2

    # the second month's oracle may not offer what the first month granted: every shipped
    # policy's entry limit allows one grant per three months or more
    with Warehouse(out / "warehouse.duckdb", threads=2) as warehouse:
        days = warehouse.table("decisions").select("snapshot_date").distinct().to_pandas()
        first_day, second_day = sorted(pd.to_datetime(days["snapshot_date"]).dt.date)
        decisions = warehouse.table("decisions").to_pandas()
        on_first = pd.to_datetime(decisions["snapshot_date"]).dt.date == first_day
        granted = decisions[on_first & decisions["action"] & decisions["policy_id"].notna()]
        pool = eligible_pool(warehouse, second_day, None, set())
        allowed = permitted(warehouse, second_day, pool)
    pairs = ["subscriber_id", "policy_id"]
    again = pool.merge(granted[pairs], on=pairs)
    assert len(again) > 0  # eligible again by the policies' conditions alone ...
    assert allowed.merge(granted[pairs], on=pairs).empty  # ... but not by their entry limits
    assert 0 < len(allowed) < len(pool)


def test_the_simulated_operator_sizes_the_policy_budgets_to_its_base(tmp_path: Path) -> None:
    """The shipped budgets are the demo's (20 000 subscribers): a loop of 100 000 runs with five
    times each count and money, a small one with at least one of each, both valid libraries
    the daily run then reads as the applied edit."""
    shipped = {p.id: p.budget for p in load_policies().policies}
    big = load_policies(size_policy_budgets(tmp_path / "big", 100_000))
    assert not big.errors and {p.id for p in big.policies} == set(shipped)
    for policy in big.policies:
        before = shipped[policy.id]
        assert policy.budget.count == (None if before.count is None else before.count * 5)
        assert policy.budget.money == (None if before.money is None else before.money * 5)
        assert policy.budget.per_months == before.per_months
    small = load_policies(size_policy_budgets(tmp_path / "small", 30))
    assert all(p.budget.count in (None, 1, 2, 3) for p in small.policies)
    assert (tmp_path / "small" / "config" / "policies.yaml").is_file()


def test_the_loops_table_shows_the_saving_per_yuan_with_and_without_the_draws(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command's text output: a month a row, the realised saving per yuan and the one
    averaged over the personal draws side by side (none where the truth predates it)."""
    result = LoopResult(
        months=["2026-10", "2026-11"],
        nba=ArmFigures(
            spent=[400.0, 500.0],
            saved=[1000.0, 250.0],
            treated=[80, 90],
            saved_expected=[800.0, None],
        ),
        top_risk=ArmFigures(spent=[400.0, 500.0], saved=[10.0, 5.0], treated=[70, 75]),
        oracle=[2000.0, 1000.0],
        evidence_oracle=[900.0, 400.0],
        latent_oracle=[1500.0, 800.0],
        oracle_unruled=[2500.0, 1200.0],
        uplift_qini=[0.55, None],
        operations=[{}, {}],
    )
    monkeypatch.setattr(out, "width", 240)  # a wide terminal: a row on one line
    print_loop(result)
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if "month" in line and "w/o draws" in line)
    columns = header.split()
    october = next(line for line in lines if line.strip().startswith("2026-10")).split()
    november = next(line for line in lines if line.strip().startswith("2026-11")).split()
    assert columns[-4:] == ["w/o", "draws", "uplift", "Qini"]
    assert october[-3:] == ["2.50", "2.00", "0.55"]  # 1 000 / 400, 800 / 400, Qini
    assert november[-3:] == ["0.50", "–", "–"]
