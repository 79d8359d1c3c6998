"""Personal data in the warehouse: erasure (the profile deleted, every other table
pseudonymised, the counts kept), later deliveries dropping an erased subscriber, the purge by
retention period, the Spark refusal, and ``weiwan privacy`` / ``weiwan purge`` end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

import factories as f
from weiwan.analytics.ingest import ingest
from weiwan.analytics.privacy import (
    SparkNotSupportedError,
    apply_erasures,
    purge,
    require_duckdb,
    subscriber_rows,
)
from weiwan.analytics.warehouse import Warehouse
from weiwan.cli import app as cli
from weiwan.core.db import make_engine, session_scope
from weiwan.core.personal_data import digest, pseudonym_of
from weiwan.core.retention import load_rules
from weiwan.core.settings import get_settings
from weiwan.ops.org.models import AuditEvent
from weiwan.ops.privacy.ledger import read_ledger
from weiwan.ops.privacy.models import Erasure

SNAP = date(2026, 10, 31)
NEXT = date(2026, 11, 30)
SALT = "test-salt"
WHO = "U000003"


def _usage_by_month(wh: Warehouse) -> list[tuple[object, ...]]:
    return wh.execute("SELECT bill_month, count(*) FROM monthly_usage GROUP BY 1 ORDER BY 1")


def _ids_anywhere(wh: Warehouse, sid: str) -> dict[str, int]:
    return {t.table: t.rows for t in subscriber_rows(wh, sid) if t.rows}


@pytest.fixture
def loaded(tmp_path: Path, warehouse: Warehouse) -> Warehouse:
    f.delivery(tmp_path / "d1", subscribers=20)
    ingest(tmp_path / "d1", snapshot=SNAP, warehouse=warehouse)
    # a derived table with the subscriber's number, like a profile or an export
    warehouse.execute(
        "CREATE TABLE profile AS SELECT subscriber_id, msisdn, 1 AS score, _snapshot "
        "AS snapshot_date FROM subscribers"
    )
    return warehouse


def test_erasure_deletes_the_profile_and_pseudonymises_every_other_row(
    loaded: Warehouse,
) -> None:
    usage = _usage_by_month(loaded)
    assert _ids_anywhere(loaded, WHO) == {"monthly_usage": 2, "profile": 1, "subscribers": 1}
    pseudonym = pseudonym_of(SALT, WHO)
    changed = apply_erasures(loaded, SALT, [(digest(SALT, WHO), pseudonym)])
    assert changed == {"monthly_usage": 2, "profile": 1, "subscribers": 1}
    assert _ids_anywhere(loaded, WHO) == {}
    assert _usage_by_month(loaded) == usage  # the aggregates keep their counts
    assert loaded.execute("SELECT count(*) FROM subscribers") == [(19,)]
    assert loaded.execute(
        "SELECT msisdn, score FROM profile WHERE subscriber_id = ?", [pseudonym]
    ) == [(None, 1)]
    assert _ids_anywhere(loaded, "U000004")["monthly_usage"] == 2  # nobody else
    # again: nothing more
    assert apply_erasures(loaded, SALT, [(digest(SALT, WHO), pseudonym)]) == {}
    # a warehouse of another installation (another salt) is refused, not mixed
    with pytest.raises(Exception, match="salt differs"):
        apply_erasures(loaded, "other", [(digest("other", "U000005"), "Ex")])
    assert _ids_anywhere(loaded, "U000005")["subscribers"] == 1


def test_a_later_delivery_does_not_bring_an_erased_subscriber_back(
    tmp_path: Path, loaded: Warehouse
) -> None:
    apply_erasures(loaded, SALT, [(digest(SALT, WHO), pseudonym_of(SALT, WHO))])
    f.delivery(tmp_path / "d2", subscribers=20, months=("2026-10", "2026-11"))
    result = ingest(tmp_path / "d2", snapshot=NEXT, warehouse=loaded)
    assert result.tables["subscribers"].quarantined == 0
    rows = loaded.execute(
        "SELECT count(*), count(DISTINCT subscriber_id) FROM subscribers WHERE _snapshot = ?",
        [NEXT],
    )
    assert rows == [(19, 19)]
    assert _ids_anywhere(loaded, WHO) == {}
    assert loaded.execute("SELECT count(*) FROM monthly_usage WHERE _snapshot = ?", [NEXT]) == [
        (38,)
    ]


def test_the_purge_deletes_usage_past_its_period_month_by_month(loaded: Warehouse) -> None:
    rules = load_rules(None)  # raw usage: 24 months
    today = date(2028, 10, 1)  # cut-off 2026-10-01: September 2026 goes
    counted = {c.table: c.rows for c in purge(loaded, rules, today, dry_run=True)}
    assert counted["monthly_usage"] == 20
    assert _usage_by_month(loaded) == [(date(2026, 9, 1), 20), (date(2026, 10, 1), 20)]
    done = {c.table: c.rows for c in purge(loaded, rules, today)}
    assert done == counted
    assert _usage_by_month(loaded) == [(date(2026, 10, 1), 20)]
    assert sum(c.rows for c in purge(loaded, rules, today)) == 0


def test_the_spark_engine_is_refused_not_half_done() -> None:
    with pytest.raises(SparkNotSupportedError, match="not supported on Spark yet"):
        require_duckdb(object())


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A weiwan home with a SQLite operational database and a loaded warehouse."""
    monkeypatch.setenv("WEIWAN_HOME", str(tmp_path))
    monkeypatch.delenv("WEIWAN_DATABASE_URL", raising=False)
    monkeypatch.delenv("WEIWAN_WAREHOUSE_PATH", raising=False)
    monkeypatch.delenv("WEIWAN_ENGINE", raising=False)
    f.delivery(tmp_path / "d1", subscribers=5)
    with Warehouse(tmp_path / "warehouse.duckdb") as wh:
        ingest(tmp_path / "d1", snapshot=SNAP, warehouse=wh)
    get_settings.cache_clear()
    try:
        yield tmp_path
    finally:
        get_settings.cache_clear()


def test_the_cli_reports_erases_once_and_purges(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    report = runner.invoke(cli, ["privacy", "report", WHO, "--json"])
    assert report.exit_code == 0, report.output
    places = {(p["store"], p["table"]): p["rows"] for p in json.loads(report.stdout)["places"]}
    assert places["warehouse", "monthly_usage"] == 2 and places["ops", "contacts"] == 0
    missing = runner.invoke(cli, ["privacy", "erase", "U999999", "--reason", "REQ-1"])
    assert missing.exit_code == 1 and "not found" in missing.output
    erased = runner.invoke(cli, ["privacy", "erase", WHO, "--reason", "REQ-1", "--json"])
    assert erased.exit_code == 0, erased.output
    body = json.loads(erased.stdout)
    assert body["warehouse"] == {"monthly_usage": 2, "subscribers": 1}
    again = runner.invoke(cli, ["privacy", "erase", WHO, "--reason", "REQ-1"])
    assert again.exit_code == 0 and "nothing changed" in again.stdout
    engine = make_engine(f"sqlite:///{home / 'weiwan.db'}")
    try:
        with session_scope(engine) as session:
            erasures = session.query(Erasure).all()
            assert [e.pseudonym for e in erasures] == [body["pseudonym"]]
            actions = [a.action for a in session.query(AuditEvent).order_by(AuditEvent.id)]
            assert actions == ["export", "erasure"]
    finally:
        engine.dispose()
    with Warehouse(home / "warehouse.duckdb") as wh:
        assert _ids_anywhere(wh, WHO) == {}
    dry = runner.invoke(cli, ["purge", "--dry-run"])
    assert dry.exit_code == 2 and "would purge 0 rows" in dry.output  # nothing expired yet
    monkeypatch.setenv("WEIWAN_ENGINE", "spark")
    get_settings.cache_clear()
    refused = runner.invoke(cli, ["privacy", "erase", "U000001", "--reason", "REQ-2"])
    assert refused.exit_code == 1 and "not supported on Spark yet" in " ".join(
        refused.output.split()
    )


def test_a_batch_of_requests_is_checked_whole_then_erased_once_each(home: Path) -> None:
    """A privacy office's file of requests: a row in error erases nothing and is named by file,
    row and column; a valid file erases each subscriber once (a repeated row once, a row
    without a reason under --reason), lists whom nothing holds, and appends each erasure to the
    ledger; the same file again changes nothing."""
    runner = CliRunner()
    bad = home / "requests.csv"
    bad.write_text("subscriber_id,reason\nU000001,REQ-7\nU 02,REQ-8\nU000003,\n", "utf-8")
    refused = runner.invoke(cli, ["privacy", "erase", "--file", str(bad)])
    assert refused.exit_code == 1, refused.output
    said = " ".join(refused.output.split())
    assert "requests.csv: row 3, subscriber_id: not a subscriber id" in said
    assert "requests.csv: row 4, reason: missing" in said and "nothing was erased" in said
    ledger = home / "erasures.jsonl"
    with Warehouse(home / "warehouse.duckdb") as wh:
        assert _ids_anywhere(wh, "U000001")
    assert not ledger.exists()
    batch = home / "batch.csv"
    rows = "Reason,Subscriber_ID\nREQ-7,U000001\n,U000002\nREQ-9,U000001\nREQ-7,U999999\n,\n"
    batch.write_text("\ufeff" + rows, "utf-8")
    done = runner.invoke(
        cli, ["privacy", "erase", "--file", str(batch), "--reason", "REQ-8", "--json"]
    )
    assert done.exit_code == 0, done.output
    body = json.loads(done.stdout)
    assert (body["requests"], body["erased"], body["already_erased"]) == (3, 2, 0)
    assert body["not_found"] == [{"row": 5, "subscriber_id": "U999999"}]
    assert body["warehouse"]["subscribers"] == 2
    with Warehouse(home / "warehouse.duckdb") as wh:
        assert _ids_anywhere(wh, "U000001") == {} == _ids_anywhere(wh, "U000002")
        assert _ids_anywhere(wh, "U000000")  # not asked for
    engine = make_engine(f"sqlite:///{home / 'weiwan.db'}")
    try:
        with session_scope(engine) as session:
            reasons = sorted(e.reason for e in session.query(Erasure))
    finally:
        engine.dispose()
    assert reasons == ["REQ-7", "REQ-8"]
    assert len(read_ledger(ledger).erasures) == 2
    again = runner.invoke(cli, ["privacy", "erase", "--file", str(batch), "--reason", "REQ-8"])
    assert again.exit_code == 0, again.output
    assert "3 requests, 0 erased, 2 already erased, 1 not found" in again.stdout
    assert "row 5: U999999 not found" in again.stdout
    assert len(read_ledger(ledger).erasures) == 2
    neither = runner.invoke(cli, ["privacy", "erase", "--reason", "REQ-1"])
    assert neither.exit_code == 1 and "subscriber id or --file" in neither.output


def _rejected_usage(directory: Path, snapshot_month: str) -> None:
    """A delivery of six subscribers whose usage has one bad value of ``WHO``'s (sms_count),
    one of U000004's, and a line of ``WHO``'s that cannot be split into columns."""
    f.delivery(directory, subscribers=6, months=())
    rows = [f.usage(i, snapshot_month) for i in range(6)]
    rows[3]["sms_count"] = "abc"
    rows[4]["sms_count"] = "xyz"
    f.write_csv(directory / "monthly_usage.csv", f.USAGE_HEADER, rows)
    with (directory / "monthly_usage.csv").open("a", encoding="utf-8") as out:
        out.write(f"{WHO},{snapshot_month},12\n")


def _quarantined(wh: Warehouse) -> list[tuple[object, ...]]:
    return wh.execute(
        "SELECT _snapshot, subscriber_id, column_name, value FROM quarantine "
        "ORDER BY _snapshot, line, column_name"
    )


def test_erasure_removes_the_subscribers_rejected_values_and_keeps_later_ones_out(
    tmp_path: Path, warehouse: Warehouse
) -> None:
    """Ingest keeps each rejected value with its row's subscriber: the erasure deletes theirs
    (and a line of theirs that named no column), and later deliveries quarantine nothing of
    theirs, while the others' rejected values stay for the data-quality report."""
    _rejected_usage(tmp_path / "d1", "2026-10")
    ingest(tmp_path / "d1", snapshot=SNAP, warehouse=warehouse)
    held = _quarantined(warehouse)
    assert (SNAP, WHO, "sms_count", "abc") in held
    assert (SNAP, None, "*", f"{WHO},2026-10,12") in held
    assert _ids_anywhere(warehouse, WHO)["quarantine"] == 1
    changed = apply_erasures(warehouse, SALT, [(digest(SALT, WHO), pseudonym_of(SALT, WHO))])
    assert changed["quarantine"] == 2
    assert _quarantined(warehouse) == [(SNAP, "U000004", "sms_count", "xyz")]
    assert "quarantine" not in _ids_anywhere(warehouse, WHO)
    _rejected_usage(tmp_path / "d2", "2026-11")
    ingest(tmp_path / "d2", snapshot=NEXT, warehouse=warehouse)
    later = [row for row in _quarantined(warehouse) if row[0] == NEXT]
    assert [row[1:] for row in later if row[1] is not None] == [("U000004", "sms_count", "xyz")]
    assert all(row[1] != WHO for row in _quarantined(warehouse))
    # the rejected values age out with the data corrections (24 months after the delivery)
    purged = {c.table: c.rows for c in purge(warehouse, load_rules(None), date(2028, 11, 30))}
    assert purged["quarantine"] == 1 and warehouse.execute(
        "SELECT count(*) FROM quarantine WHERE _snapshot = ?", [SNAP]
    ) == [(0,)]
