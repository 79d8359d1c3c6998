"""Published weekly / monthly / churn analysis reports: publishing (documents per scope,
idempotent, only due periods again), the API within the reader's scope, and the churn analysis
report equal to the churn dashboard's API for the same month."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from openpyxl import load_workbook
from typer.testing import CliRunner

from api_helpers import login
from period_report_fixtures import SNAPSHOT, build_report_warehouse
from weiwan.analytics.churn_analysis import churn_documents
from weiwan.analytics.period_report_doc import period_documents
from weiwan.analytics.period_reports import Period, ReportTargets
from weiwan.analytics.warehouse import Warehouse
from weiwan.cli import app as cli
from weiwan.core.settings import get_settings
from weiwan.pipeline.publish import reports
from weiwan.pipeline.publish.metrics import publish_metrics
from weiwan.pipeline.publish.reports import (
    due_periods,
    publish_reports,
    stale,
    subtrees,
    within_budget,
)

API = "/api/v1/reports"


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    with build_report_warehouse(tmp_path / "wh.duckdb") as warehouse:
        yield warehouse


def _documents(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT kind, key, scope, branch_id, start, last_day, snapshot_date, document "
            "FROM period_reports ORDER BY kind, key, scope"
        )
        return [tuple(r) for r in rows]


def test_subtrees_hold_every_sub_branch() -> None:
    tree = [("HZ", 1, None), ("HZ-CA", 2, 1), ("X", 4, 2), ("NB", 3, None)]
    assert subtrees(tree) == {
        "HZ": ["HZ", "HZ-CA", "X"],
        "HZ-CA": ["HZ-CA", "X"],
        "X": ["X"],
        "NB": ["NB"],
    }


def test_publish_per_scope_twice_the_same(
    wh: Warehouse, engine: sa.Engine, branches: dict[str, int]
) -> None:
    written = publish_reports(wh, engine, SNAPSHOT, weeks=2, months=2)
    rows = _documents(engine)
    assert written == len(rows)
    keys = {(r[0], r[1]) for r in rows}
    # closed by Saturday 2026-10-31: weeks 43 and 42; months September and October
    assert keys == {
        ("week", "2026-W43"),
        ("week", "2026-W42"),
        ("month", "2026-10"),
        ("month", "2026-09"),
        ("churn", "2026-10"),
        ("churn", "2026-09"),
    }
    october = {r[2]: r for r in rows if r[:2] == ("month", "2026-10")}
    # the whole operator, the city with its sub-branch, the sub-branch, the other branch
    assert set(october) == {"*", "HZ", "HZ-CA", "NB"}
    assert october["*"][3] is None and october["HZ"][3] == branches["city"]
    assert october["HZ-CA"][3] == branches["rural_a"]
    hz = json.loads(october["HZ"][7])
    assert hz["branches"] == ["HZ", "HZ-CA", "HZ-JD"]
    whole = json.loads(october["*"][7])["total"]
    nb = json.loads(october["NB"][7])["total"]
    assert whole["at_start"] == hz["total"]["at_start"] + nb["at_start"]
    # again: no input changed, so nothing is rebuilt and the documents stay the same
    again = publish_reports(wh, engine, SNAPSHOT, weeks=2, months=2)
    assert again == 0
    assert _documents(engine) == rows
    with engine.connect() as conn:
        publications = conn.exec_driver_sql(
            "SELECT kind, rows FROM publications WHERE kind = 'reports'"
        ).all()
    assert [tuple(p) for p in publications] == [("reports", again)]


@pytest.fixture
def published(
    wh: Warehouse, engine: sa.Engine, branches: dict[str, int], people: dict[str, int]
) -> sa.Engine:
    publish_metrics(wh, engine, SNAPSHOT)
    publish_reports(wh, engine, SNAPSHOT, weeks=1, months=1)
    return engine


def _pairs(rows: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    return {r["member"]: (r["numerator"], r["denominator"]) for r in rows}


@pytest.mark.parametrize("username", ["director", "head"])
def test_churn_report_equals_the_churn_dashboard(
    published: sa.Engine, app: FastAPI, username: str
) -> None:
    client = login(app, username)
    dashboard = client.get(f"{API}/churn").json()
    response = client.get(f"{API}/churn-analysis/2026-10")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["scope"] == ("*" if username == "director" else "HZ")
    doc = report["document"]
    parts = dashboard["parts"]
    assert doc["leavers"] == dashboard["leavers"] > 0
    for key, part in (
        ("reasons", "churn_reason:reason"),
        ("destinations", "churn_destination:destination"),
        ("tenure_leavers", "churn_tenure:leavers"),
        ("tenure_base", "churn_tenure:base"),
        ("touchpoints", "churn_touchpoint:touchpoint"),
    ):
        assert _pairs(doc[key]) == _pairs(parts[part]), key
    cost = {f["member"]: f["numerator"] for f in parts["churn_cost:cost"]}
    assert doc["costs"]["direct"] == cost["direct"]
    assert doc["costs"]["lost_future_bill"] == cost["lost_future"]
    assert doc["costs"]["opportunity"] == cost["retention_effort"]
    overview = client.get(f"{API}/overview", params={"month": "2026-10"}).json()
    month = client.get(f"{API}/periods/month/2026-10").json()["document"]["total"]
    trend = {f["period"]: f for f in overview["churn_trend"]}
    assert month["churned"] == trend["2026-10-01"]["numerator"]
    assert month["at_start"] == trend["2026-10-01"]["denominator"]


def test_scope_and_roles(published: sa.Engine, app: FastAPI) -> None:
    head = login(app, "head")
    listed = head.get(f"{API}/periods").json()["items"]
    assert {e["kind"] for e in listed} == {"week", "month", "churn"}
    # the city head sees the city's documents only (the city with its sub-branches, and the
    # sub-branch's own), never the whole operator's or the other branch's
    assert all(e["scopes"] == ["HZ", "HZ-CA"] for e in listed)
    nb = head.get(f"{API}/periods/month/2026-10", params={"branch": "NB"})
    assert nb.status_code == 404
    assert head.get(f"{API}/churn-analysis/2026-10", params={"branch": "*"}).status_code == 404
    own = head.get(f"{API}/periods/month/2026-10").json()["document"]
    director = login(app, "director")
    whole = director.get(f"{API}/periods/month/2026-10").json()["document"]
    other = director.get(f"{API}/periods/month/2026-10", params={"branch": "NB"}).json()
    assert (
        own["total"]["at_start"] + other["document"]["total"]["at_start"]
        == (whole["total"]["at_start"])
    )
    assert director.get(f"{API}/periods").json()["items"][0]["scopes"] == [
        "*",
        "HZ",
        "HZ-CA",
        "NB",
    ]
    for username in ("agent", "lead", "clerk", "admin"):
        client = login(app, username)
        assert client.get(f"{API}/periods").status_code == 403
        assert client.get(f"{API}/churn-analysis/2026-10").status_code == 403
    missing = director.get(f"{API}/periods/week/2020-W01")
    assert missing.status_code == 404
    assert director.get(f"{API}/periods/week/2026-10").status_code == 422
    assert director.get(f"{API}/churn-analysis/2026-13").status_code == 422


@pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
def test_cli_json_equals_the_api(
    engine: sa.Engine,
    app: FastAPI,
    branches: dict[str, int],
    people: dict[str, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "cli.duckdb"
    with build_report_warehouse(path) as warehouse:
        publish_reports(warehouse, engine, SNAPSHOT, weeks=1, months=1)
    monkeypatch.setenv("WEIWAN_WAREHOUSE_PATH", str(path))
    monkeypatch.setenv("WEIWAN_HOME", str(tmp_path))
    get_settings.cache_clear()
    sheets = tmp_path / "churn.xlsx"
    try:
        churn, period = ["report", "churn", "--period"], ["report", "period", "--month"]
        runs = {
            name: CliRunner().invoke(cli, args)
            for name, args in (
                ("churn", [*churn, "2026-10", "--json", "--xlsx", str(sheets)]),
                ("month", [*period, "2026-10", "--json"]),
                ("text", [*churn, "2026-10", "--lang", "en"]),
                ("both", [*period, "2026-10", "--week", "2026-W43"]),
                ("bad", [*churn, "2026-13"]),
            )
        }
    finally:
        get_settings.cache_clear()
    for name in ("churn", "month", "text"):
        assert runs[name].exit_code == 0, runs[name].output
    director = login(app, "director")
    assert (
        json.loads(runs["churn"].stdout)
        == (director.get(f"{API}/churn-analysis/2026-10").json()["document"])
    )
    assert (
        json.loads(runs["month"].stdout)
        == (director.get(f"{API}/periods/month/2026-10").json()["document"])
    )
    assert "largest controllable reason is price" in runs["text"].stdout
    book = load_workbook(sheets)
    assert len(book.sheetnames) == 8 and "流失成本" in book.sheetnames
    assert runs["both"].exit_code != 0 and "exactly one" in runs["both"].output
    assert runs["bad"].exit_code != 0 and "2026-13" in runs["bad"].output


def test_due_periods_skip_those_before_the_first_churn() -> None:
    since = date(2026, 9, 10)  # the first churn delivered: August has no history yet
    due = due_periods(date(2026, 11, 1), weeks=2, months=3, since=since)
    assert [(k, p.key) for k, p in due] == [
        ("week", "2026-W44"),
        ("week", "2026-W43"),
        ("month", "2026-10"),
        ("churn", "2026-10"),
        ("month", "2026-09"),
        ("churn", "2026-09"),
    ]
    fingerprints = {(k, p.key): f"inputs of {k} {p.key}" for k, p in due}
    published: dict[tuple[str, str], str | None] = dict(fingerprints)
    assert stale(due, published, fingerprints) == []
    # inputs changed, published before fingerprints (NULL), not published
    published[("week", "2026-W43")] = "other inputs"
    published[("churn", "2026-09")] = None
    del published[("month", "2026-10")]
    assert [(k, p.key) for k, p in stale(due, published, fingerprints)] == [
        ("week", "2026-W43"),
        ("month", "2026-10"),
        ("churn", "2026-09"),
    ]


def _built(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(kind, key) of every period the publish builds from now on."""
    built: list[tuple[str, str]] = []

    def period_spy(wh: Warehouse, snapshot: date, period: Period, *args: Any) -> Any:
        built.append((period.kind, period.key))
        return period_documents(wh, snapshot, period, *args)

    def churn_spy(wh: Warehouse, snapshot: date, month: date, *args: Any) -> Any:
        built.append(("churn", month.strftime("%Y-%m")))
        return churn_documents(wh, snapshot, month, *args)

    monkeypatch.setattr(reports, "period_documents", period_spy)
    monkeypatch.setattr(reports, "churn_documents", churn_spy)
    return built


def test_a_new_closed_month_builds_just_what_closed(
    wh: Warehouse, engine: sa.Engine, branches: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_reports(wh, engine, SNAPSHOT, weeks=2, months=2)
    before = {(r[0], r[1], r[2]): r for r in _documents(engine)}
    built = _built(monkeypatch)
    # a month later (Monday 2026-11-30): November and its weeks closed, October is unchanged
    # (its churn base was taken on 2026-10-31, its last day, either way)
    written = publish_reports(wh, engine, date(2026, 11, 30), weeks=2, months=2)
    assert sorted(built) == [
        ("churn", "2026-11"),
        ("month", "2026-11"),
        ("week", "2026-W47"),
        ("week", "2026-W48"),
    ]
    after = {(r[0], r[1], r[2]): r for r in _documents(engine)}
    assert written == sum(1 for key in after if (key[0], key[1]) in built)
    assert {k: v for k, v in after.items() if (k[0], k[1]) not in built} == before
    # and the day after, nothing
    built.clear()
    assert publish_reports(wh, engine, date(2026, 11, 30), weeks=2, months=2) == 0
    assert built == []


def test_a_late_correction_rebuilds_the_periods_that_read_it(
    wh: Warehouse, engine: sa.Engine, branches: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_reports(wh, engine, SNAPSHOT, weeks=8, months=3)
    before = {(r[0], r[1], r[2]): r for r in _documents(engine)}
    built = _built(monkeypatch)
    # a survey of 2026-09-15 delivered late: September's report and the week holding the
    # day, and the churn analyses whose leavers' touchpoints reach back to it
    wh.con.con.execute(
        "INSERT INTO surveys (survey_id, subscriber_id, survey_time, touchpoint, score, "
        "_snapshot) VALUES ('S9', 'E', TIMESTAMP '2026-09-15 09:00:00', 'store', 3, ?)",
        [SNAPSHOT],
    )
    publish_reports(wh, engine, SNAPSHOT, weeks=8, months=3)
    assert sorted(built) == [
        ("churn", "2026-09"),
        ("churn", "2026-10"),
        ("month", "2026-09"),
        ("week", "2026-W38"),
    ]
    after = {(r[0], r[1], r[2]): r for r in _documents(engine)}
    assert set(after) == set(before)
    september = json.loads(after[("month", "2026-09", "*")][7])["total"]
    assert (
        september["surveys"]
        == json.loads(before[("month", "2026-09", "*")][7])["total"]["surveys"] + 1
    )
    unchanged = [k for k in after if (k[0], k[1]) not in built]
    assert unchanged and all(after[k] == before[k] for k in unchanged)


def test_new_targets_rebuild_every_period(
    wh: Warehouse, engine: sa.Engine, branches: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_reports(wh, engine, SNAPSHOT, weeks=2, months=2)
    built = _built(monkeypatch)
    goals = ReportTargets(satisfaction_rate=0.9)
    publish_reports(wh, engine, SNAPSHOT, targets=goals, weeks=2, months=2)
    assert len(built) == len(due_periods(SNAPSHOT, 2, 2, date(2025, 10, 8))) == 6
    october = {r[2]: json.loads(r[7]) for r in _documents(engine) if r[:2] == ("month", "2026-10")}
    assert october["*"]["targets"]["satisfaction_rate"]["target"] == 0.9
    built.clear()
    assert publish_reports(wh, engine, SNAPSHOT, targets=goals, weeks=2, months=2) == 0
    assert built == []


def test_a_table_stored_empty_changes_nothing(
    wh: Warehouse, engine: sa.Engine, branches: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the first run has no retention outcomes (no decisions yet); the next day's run stores
    # an empty table: the same inputs, nothing to rebuild
    wh.con.con.execute("CREATE TABLE kept_outcomes AS SELECT * FROM retention_outcomes")
    wh.con.con.execute("DROP TABLE retention_outcomes")
    publish_reports(wh, engine, SNAPSHOT, weeks=2, months=2)
    built = _built(monkeypatch)
    wh.con.con.execute("CREATE TABLE retention_outcomes AS SELECT * FROM kept_outcomes LIMIT 0")
    assert publish_reports(wh, engine, SNAPSHOT, weeks=2, months=2) == 0
    assert built == []


def test_the_budget_orders_the_history_newest_first() -> None:
    due = due_periods(date(2026, 11, 1), weeks=2, months=2)
    # 10 subscribers: a week or month costs 20 subscriber-periods, a churn analysis 10
    now, later = within_budget(due, 10, 50)
    assert [(k, p.key) for k, p in now] == [
        ("week", "2026-W44"),
        ("month", "2026-10"),
        ("churn", "2026-10"),
    ]
    assert [(k, p.key) for k, p in later] == [
        ("week", "2026-W43"),
        ("month", "2026-09"),
        ("churn", "2026-09"),
    ]
    # one period is built whatever the budget, so the history always advances
    assert [(k, p.key) for k, p in within_budget(due, 10, 1)[0]] == [("week", "2026-W44")]
    assert within_budget(due, 10, 10**9) == (sorted(due, key=lambda d: d[1].end, reverse=True), [])


def test_a_history_over_the_budget_is_built_over_the_next_runs(
    wh: Warehouse,
    engine: sa.Engine,
    branches: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    publish_reports(wh, engine, SNAPSHOT, weeks=2, months=2)
    whole = _documents(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM period_reports")
    built = _built(monkeypatch)
    runs = []
    while True:  # each run builds what one period of this operator costs, newest first
        built.clear()
        publish_reports(wh, engine, SNAPSHOT, weeks=2, months=2, build_rows=1)
        if not built:
            break
        runs.append(list(built))
    assert runs == [  # the month that ended on 2026-11-01 first, then newest first
        [("month", "2026-10")],
        [("churn", "2026-10")],
        [("week", "2026-W43")],
        [("week", "2026-W42")],
        [("month", "2026-09")],
        [("churn", "2026-09")],
    ]
    assert _documents(engine) == whole
