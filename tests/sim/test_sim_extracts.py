"""The operator simulator's extracts: contract shape, formats, determinism."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from weiwan.analytics.contract import TABLES, ColumnType
from weiwan.sim import EXTRA_SUBSCRIBER_COLUMNS, SimulationSummary, simulate

from .sim_fixtures import END, MONTHS, SEED, SUBSCRIBERS, one, read

# --- the contract -------------------------------------------------------------------------

ARROW = {
    ColumnType.STRING: pa.string(),
    ColumnType.INTEGER: pa.int64(),
    ColumnType.DECIMAL: pa.float64(),
    ColumnType.BOOLEAN: pa.bool_(),
    ColumnType.DATE: pa.date32(),
    ColumnType.TIMESTAMP: pa.timestamp("s"),
    ColumnType.MONTH: pa.string(),
}


@pytest.mark.parametrize("table", TABLES, ids=[t.name for t in TABLES])
def test_extract_conforms_to_contract(sim_run: tuple[Path, SimulationSummary], table: Any) -> None:
    data = read(sim_run, table.name)
    extras = [n for n, _ in EXTRA_SUBSCRIBER_COLUMNS] if table.name == "subscribers" else []
    assert data.column_names == [*table.column_names, *extras]
    assert data.num_rows > 0
    for col in table.columns:
        values = data.column(col.name)
        if col.type == ColumnType.TIMESTAMP:  # Parquet has no seconds unit: ms, whole seconds
            assert values.type == pa.timestamp("ms"), col.name
            ms = pc.cast(pc.drop_null(values), pa.int64()).to_numpy()
            assert (ms % 1000 == 0).all(), col.name
        else:
            assert values.type == ARROW[col.type], col.name
        if col.required:
            assert values.null_count == 0, col.name
        present = pc.drop_null(values)
        if col.allowed is not None:
            assert set(pc.unique(present).to_pylist()) <= set(col.allowed), col.name
        if col.minimum is not None:
            assert pc.min(present).as_py() >= col.minimum, col.name
        if col.maximum is not None:
            assert pc.max(present).as_py() <= col.maximum, col.name
        if col.pattern is not None:
            assert pc.all(pc.match_substring_regex(present, col.pattern)).as_py(), col.name
        if col.type == ColumnType.MONTH:
            assert pc.all(pc.match_substring_regex(present, r"^\d{4}-\d{2}$")).as_py()
    keys = data.group_by(list(table.key)).aggregate([]).num_rows
    assert keys == data.num_rows, f"{table.name} key {table.key} not unique"
    if table.references_subscribers:
        known = set(read(sim_run, "subscribers").column("subscriber_id").to_pylist())
        assert set(data.column("subscriber_id").to_pylist()) <= known


def test_subscriber_profile_is_realistic(sim_db: Any) -> None:
    assert one(sim_db, "select count(*) from subscribers") == SUBSCRIBERS
    prepaid = one(sim_db, "select avg((payment_type = 'prepaid')::int) from subscribers")
    assert 0.3 < prepaid < 0.5
    assert one(sim_db, "select count(distinct region) from subscribers") == 5
    assert one(sim_db, "select count(distinct branch) from subscribers") >= 10
    assert one(sim_db, "select count(*) from subscribers where plan_monthly_fee in (96, 126)") > 0
    multi = one(
        sim_db,
        "select count(*) from (select customer_id from subscribers "
        "group by 1 having count(*) between 2 and 3)",
    )
    assert multi > SUBSCRIBERS * 0.03
    largest = "select max(n) from (select count(*) n from subscribers group by customer_id)"
    assert one(sim_db, largest) <= 3
    ages = one(
        sim_db,
        f"select min(date_diff('year', birth_date, date '{END}-28')), "
        f"max(date_diff('year', birth_date, date '{END}-28')) from subscribers",
    )
    assert ages[0] >= 15 and ages[1] <= 81
    managers = one(
        sim_db,
        "select count(distinct account_manager), "
        "avg((account_manager is not null)::int) from subscribers",
    )
    assert 10 <= managers[0] <= 60 and managers[1] < 0.15
    star = one(sim_db, "select min(star_level), max(star_level) from subscribers")
    assert star == (1, 7)
    assert one(sim_db, "select count(distinct broadband_bundle) from subscribers") == 2
    joined = one(
        sim_db,
        f"select avg((join_date >= date '{END}-01' - interval 11 month)::int) from subscribers",
    )
    assert 0.05 < joined < 0.3


def test_id_numbers_carry_birth_date_and_valid_checksum(
    sim_run: tuple[Path, SimulationSummary],
) -> None:
    subs = read(sim_run, "subscribers").filter(pc.is_valid(pc.field("id_number")))
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    for ident, birth in zip(
        subs.column("id_number").to_pylist()[:3000],
        subs.column("birth_date").to_pylist()[:3000],
        strict=True,
    ):
        total = sum(int(d) * w for d, w in zip(ident[:17], weights, strict=True))
        assert ident[17] == "10X98765432"[total % 11]
        assert ident[6:14] == birth.strftime("%Y%m%d")
    msisdn = read(sim_run, "subscribers").column("msisdn")
    assert len(pc.unique(msisdn)) == len(msisdn)


def test_churned_lines_keep_their_row_and_stop_using(sim_db: Any) -> None:
    mismatched = one(
        sim_db,
        """
        select count(*) from churn_records c join subscribers s using (subscriber_id)
        where s.status_date <> c.churn_date
           or s.status <> case c.churn_type when 'port_out' then 'ported_out'
                               else 'disconnected' end""",
    )
    assert mismatched == 0
    after = one(
        sim_db,
        """select count(*) from monthly_usage u join churn_records c
                       using (subscriber_id) where strptime(u.bill_month, '%Y-%m')
                       > date_trunc('month', c.churn_date)""",
    )
    assert after == 0
    before_join = one(
        sim_db,
        """select count(*) from monthly_usage u join subscribers s
                             using (subscriber_id) where strptime(u.bill_month, '%Y-%m')
                             < date_trunc('month', s.join_date)""",
    )
    assert before_join == 0
    port = one(
        sim_db,
        "select count(*) filter (where destination_competitor is null), "
        "count(distinct destination_competitor) from churn_records "
        "where churn_type = 'port_out'",
    )
    assert port[0] == 0 and port[1] >= 3
    assert (
        one(
            sim_db,
            "select count(*) from churn_records where churn_type <> 'port_out' "
            "and destination_competitor is not null",
        )
        == 0
    )


def test_usage_fields_are_coherent(sim_db: Any) -> None:
    bad = one(
        sim_db,
        """select count(*) from monthly_usage where bill_amount < vas_amount - 1e-6
        or zero_usage_days > day(last_day(strptime(bill_month, '%Y-%m')))
        or call_forwarding_days > day(last_day(strptime(bill_month, '%Y-%m')))""",
    )
    assert bad == 0
    by_payment = one(
        sim_db,
        """select avg(recharge_amount) filter (where payment_type = 'prepaid'),
        max(recharge_amount) filter (where payment_type = 'postpaid'),
        avg((arrears_amount > 0)::int) filter (where payment_type = 'postpaid')
        from monthly_usage join subscribers using (subscriber_id)""",
    )
    assert by_payment[0] > 10 and by_payment[1] == 0 and by_payment[2] < 0.05
    stressed = one(
        sim_db,
        """select avg(t.financial_stress) filter (where u.arrears_amount > 0),
        avg(t.financial_stress) from monthly_usage u join traits t using (subscriber_id)""",
    )
    assert stressed[0] > 3 * stressed[1]
    rates = one(
        sim_db,
        """select (select count(*) from complaints) / count(*),
                              (select count(*) from surveys) / count(*) from monthly_usage""",
    )
    assert 0.01 < rates[0] < 0.06 and 0.01 < rates[1] < 0.06


# --- formats and determinism ----------------------------------------------------------------


def test_same_seed_same_data_other_seed_differs(
    sim_run: tuple[Path, SimulationSummary], tmp_path: Path
) -> None:
    args: dict[str, Any] = {
        "subscribers": SUBSCRIBERS,
        "months": MONTHS,
        "end_month": END,
        "chunk_size": 10_000,
    }
    simulate(seed=SEED, out=tmp_path / "same", **args)
    simulate(seed=SEED + 1, out=tmp_path / "other", **args)
    for t in TABLES:
        again = pq.read_table(tmp_path / "same" / "extracts" / f"{t.name}.parquet")
        assert again.equals(read(sim_run, t.name)), t.name
        other = pq.read_table(tmp_path / "other" / "extracts" / f"{t.name}.parquet")
        assert not other.equals(again), t.name
    for name in ("monthly_truth", "offer_effects"):
        a = pq.read_table(tmp_path / "same" / "truth" / f"{name}.parquet")
        assert a.equals(pq.read_table(sim_run[0] / "truth" / f"{name}.parquet"))


def test_csv_writes_the_same_rows(sim_run: tuple[Path, SimulationSummary], tmp_path: Path) -> None:
    summary = simulate(
        subscribers=SUBSCRIBERS,
        months=MONTHS,
        seed=SEED,
        out=tmp_path,
        end_month=END,
        chunk_size=10_000,
        fmt="csv",
    )
    assert summary.rows == sim_run[1].rows
    con = duckdb.connect()
    for t in TABLES:
        path = tmp_path / "extracts" / f"{t.name}.csv"
        header = path.read_text(encoding="utf-8").split("\n", 1)[0]
        assert header.replace('"', "").split(",")[: len(t.columns)] == list(t.column_names)
        csv = con.execute(f"select * from read_csv('{path}', all_varchar = true)").fetchall()
        parquet = con.execute(f"select * from '{sim_run[0]}/extracts/{t.name}.parquet'").fetchall()
        assert len(csv) == len(parquet)
        assert [tuple("" if v is None else v for v in r) for r in csv[:200]] == [
            tuple(_as_text(v) for v in r) for r in parquet[:200]
        ]


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    return str(value)


def test_summary_and_arguments(sim_run: tuple[Path, SimulationSummary]) -> None:
    summary = sim_run[1]
    assert summary.subscribers == SUBSCRIBERS and summary.months == MONTHS
    assert summary.end_month == END and len(summary.churned) == MONTHS
    assert list(summary.churned)[-1] == END
    assert summary.rows["subscribers"] == SUBSCRIBERS
    assert summary.paths["monthly_usage"].exists()
    assert re.fullmatch(r"\d{4}-\d{2}", next(iter(summary.churn_rate)))
    with pytest.raises(ValueError):
        simulate(subscribers=10, months=1, seed=1, out=Path("unused"), end_month="2025/01")
