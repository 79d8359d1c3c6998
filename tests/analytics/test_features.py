"""Features: hand-computed values on a tiny delivery, and no leakage from later data."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import factories as f
from weiwan.analytics.features import compute_features, undelivered_inputs
from weiwan.analytics.ingest import ingest
from weiwan.analytics.profile import build_profile
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.months import last_complete_month
from weiwan.sim import simulate

MONTHS = ("2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10")
EVENT_HEADER = ["subscriber_id", "event_time", "event_type", "detail"]
COMPLAINT_HEADER = [
    "complaint_id",
    "subscriber_id",
    "complaint_time",
    "category",
    "severity",
    "resolved",
    "hours_to_resolve",
]
SURVEY_HEADER = ["survey_id", "subscriber_id", "survey_time", "touchpoint", "score"]
CHURN_HEADER = [
    "subscriber_id",
    "churn_date",
    "churn_type",
    "reason_code",
    "destination_competitor",
]


def _delivery(root: Path) -> Path:
    f.write_csv(root / "subscribers.csv", f.SUBSCRIBER_HEADER, [f.subscriber(i) for i in range(3)])
    usage = []
    for k, month in enumerate(MONTHS):
        row = f.usage(0, month)
        early = k < 3
        row |= {
            "bill_amount": "100" if early else "50",
            "offnet_voice_share": "0.2" if early else "0.5",
            "competitor_service_calls": "0" if early else str(k - 2),
            "recharge_amount": "0" if k % 2 else "30",
            "dropped_calls": "0" if early else str(2 * (k - 2)),
        }
        usage.append(row)
        # U1 charged 30 beyond its plan (96 + 5 of services) in July and October, and its
        # voice peaked in June and data fell by half in October
        other = f.usage(1, month) | {"dropped_calls": "0"}
        if month in ("2026-07", "2026-10"):
            other["bill_amount"] = "131"
        if month == "2026-06":
            other["voice_minutes"] = "602"
        if month == "2026-10":
            other["data_mb"] = "5120"
        usage.append(other)
    f.write_csv(root / "monthly_usage.csv", [*f.USAGE_HEADER, "dropped_calls"], usage)
    f.write_csv(
        root / "status_events.csv",
        EVENT_HEADER,
        [
            {
                "subscriber_id": "U000000",
                "event_time": "2026-09-10 08:00:00",
                "event_type": "suspend_arrears",
            },
            {
                "subscriber_id": "U000000",
                "event_time": "2026-09-20 09:00:00",
                "event_type": "resume",
            },
            {
                "subscriber_id": "U000000",
                "event_time": "2026-10-25 10:00:00",
                "event_type": "call_forwarding_on",
            },
            {
                "subscriber_id": "U000000",
                "event_time": "2026-11-05 10:00:00",
                "event_type": "pre_disconnect",
            },
        ],
    )
    f.write_csv(
        root / "complaints.csv",
        COMPLAINT_HEADER,
        [
            {
                "complaint_id": "K1",
                "subscriber_id": "U000000",
                "complaint_time": "2026-10-01 10:00:00",
                "category": "billing",
                "severity": "high",
                "resolved": "true",
                "hours_to_resolve": "48",
            },
            {
                "complaint_id": "K2",
                "subscriber_id": "U000000",
                "complaint_time": "2026-10-30 20:00:00",
                "category": "network",
                "severity": "low",
                "resolved": "true",
                "hours_to_resolve": "10",
            },
            {
                "complaint_id": "K3",
                "subscriber_id": "U000000",
                "complaint_time": "2026-10-31 22:00:00",
                "category": "network",
                "severity": "medium",
                "resolved": "true",
                "hours_to_resolve": "5",
            },
            {
                "complaint_id": "K5",
                "subscriber_id": "U000000",
                "complaint_time": "2026-10-31 12:00:00",
                "category": "billing",
                "severity": "low",
                "resolved": "true",
                "hours_to_resolve": "8",
            },
            {
                "complaint_id": "K4",
                "subscriber_id": "U000000",
                "complaint_time": "2026-06-01 10:00:00",
                "category": "service",
                "severity": "high",
                "resolved": "false",
                "hours_to_resolve": "",
            },
        ],
    )
    f.write_csv(
        root / "surveys.csv",
        SURVEY_HEADER,
        [
            {
                "survey_id": "S1",
                "subscriber_id": "U000000",
                "survey_time": "2026-09-01 10:00:00",
                "touchpoint": "store",
                "score": "9",
            },
            {
                "survey_id": "S2",
                "subscriber_id": "U000000",
                "survey_time": "2026-10-20 10:00:00",
                "touchpoint": "hotline",
                "score": "4",
            },
            {
                "survey_id": "S3",
                "subscriber_id": "U000000",
                "survey_time": "2026-11-10 10:00:00",
                "touchpoint": "hotline",
                "score": "10",
            },
        ],
    )
    f.write_csv(
        root / "churn_records.csv",
        CHURN_HEADER,
        [
            {
                "subscriber_id": "U000002",
                "churn_date": "2026-10-10",
                "churn_type": "port_out",
                "reason_code": "price",
                "destination_competitor": "中国联通",
            },
        ],
    )
    return root


def _features(wh: Warehouse, snapshot: date) -> dict[str, dict[str, Any]]:
    frame = compute_features(wh, snapshot).execute()
    return {row["subscriber_id"]: row for row in frame.to_dict("records")}


@pytest.fixture(params=["UTC", "Asia/Shanghai"])
def server_timezone(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """Results must not depend on the machine's time zone (operators' servers run on CST)."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("server_timezone")
def test_hand_computed_features(tmp_path: Path, warehouse: Warehouse) -> None:
    ingest(_delivery(tmp_path), snapshot=date(2026, 11, 30), warehouse=warehouse)
    feats = _features(warehouse, date(2026, 10, 31))
    assert set(feats) == {"U000000", "U000001"}  # U000002 left on 2026-10-10
    u0 = feats["U000000"]
    assert u0["tenure_months"] == 88  # 2019-06-01 -> 2026-10-31
    assert u0["age"] == 41  # born 1985-03-04
    assert u0["arpu_1m"] == 50 and u0["bill_mean_3m"] == 50 and u0["bill_mean_6m"] == 75
    assert u0["bill_trend_3m"] == pytest.approx(-0.5)
    assert u0["offnet_share_change_3m"] == pytest.approx(0.3)
    assert (u0["competitor_calls_1m"], u0["competitor_calls_3m"]) == (3, 6)
    assert (u0["dropped_calls_1m"], u0["dropped_calls_3m"]) == (6, 12)
    assert u0["recharge_months_6m"] == 3 and u0["recharge_1m"] == 0
    assert u0["usage_months"] == 6
    assert u0["suspensions_90d"] == 1 and u0["days_since_suspension"] == 51
    assert u0["status"] == "active"  # the pre-disconnect on 2026-11-05 is after the snapshot
    assert u0["call_forwarding_active"]
    assert (u0["complaints_90d"], u0["complaints_high_90d"], u0["complaints_total"]) == (4, 1, 5)
    assert (u0["complaints_network_90d"], u0["complaints_billing_90d"]) == (2, 2)
    assert u0["complaints_unresolved"] == 2  # K3 closes after midnight; K4 never; K5 at 20:00
    assert (u0["last_survey_score"], u0["low_scores_180d"]) == (4, 1)
    assert u0["star_level"] == 1  # the operator's extra attribute column
    # charged 50 - 5 - 96 last month: under the plan, never over it
    assert u0["bill_over_plan_1m"] == pytest.approx(-51) and u0["over_plan_months_6m"] == 0
    assert u0["voice_vs_peak_6m"] == 100
    u1 = feats["U000001"]
    assert u1["bill_over_plan_1m"] == pytest.approx(30) and u1["over_plan_months_6m"] == 2
    # whole percent, rounded down: 301 of 602 minutes is 50 %, half the data 50 %
    assert (u1["voice_vs_peak_6m"], u1["data_vs_peak_6m"]) == (50, 50)
    assert (u1["sms_vs_peak_6m"], u1["contacts_vs_peak_6m"]) == (100, 100)
    assert (u1["dropped_calls_1m"], u1["dropped_calls_3m"]) == (0, 0)
    assert u1["bill_trend_3m"] == pytest.approx(0.0)
    assert u1["complaints_total"] == 0 and u1["suspensions_90d"] == 0
    assert (u1["complaints_network_90d"], u1["complaints_billing_90d"]) == (0, 0)
    assert pd.isna(u1["last_survey_score"]) and pd.isna(u1["days_since_suspension"])
    assert not u1["call_forwarding_active"]


def test_mid_month_snapshot_uses_the_last_complete_bill_month(
    tmp_path: Path, warehouse: Warehouse
) -> None:
    assert last_complete_month(date(2026, 10, 15)) == date(2026, 9, 1)
    assert last_complete_month(date(2026, 10, 31)) == date(2026, 10, 1)
    ingest(_delivery(tmp_path), snapshot=date(2026, 11, 30), warehouse=warehouse)
    feats = _features(warehouse, date(2026, 10, 15))
    assert set(feats) == {"U000000", "U000001"}
    u0 = feats["U000000"]
    assert u0["arpu_1m"] == 50 and u0["bill_mean_3m"] == pytest.approx(200 / 3)
    assert u0["competitor_calls_3m"] == 3  # 0 + 1 + 2 for Jul-Sep
    assert u0["usage_months"] == 5  # May-Sep: only months up to the snapshot
    assert not u0["call_forwarding_active"]  # switched on 2026-10-25
    assert u0["complaints_total"] == 2
    assert (u0["complaints_network_90d"], u0["complaints_billing_90d"]) == (0, 1)  # K1 only
    assert u0["days_since_month_end"] == 15  # the last bill closed on 30 Sep
    # against the six months to September: July's charge beyond the plan, June's voice peak
    u1 = feats["U000001"]
    assert u1["over_plan_months_6m"] == 1 and u1["bill_over_plan_1m"] == pytest.approx(-3.5)
    assert (u1["voice_vs_peak_6m"], u1["data_vs_peak_6m"]) == (50, 100)
    early = _features(warehouse, date(2026, 9, 30))
    assert "U000002" in early  # still a subscriber before leaving
    assert early["U000000"]["days_since_month_end"] == 0


def test_features_never_change_when_later_data_is_added(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    simulate(subscribers=2000, months=8, seed=3, out=sim, end_month="2026-10")
    cut = date(2026, 7, 31)
    f.truncate_delivery(sim / "extracts", tmp_path / "known", cut)
    frames = []
    for name, source in (("full", sim), ("known", tmp_path / "known")):
        wh = Warehouse(tmp_path / f"{name}.duckdb", threads=2)
        try:
            ingest(source, snapshot=date(2026, 10, 31), warehouse=wh)
            frame = compute_features(wh, cut).execute()
        finally:
            wh.close()
        frames.append(frame.sort_values("subscriber_id").reset_index(drop=True))
    full, known = frames
    assert len(full) > 1500
    pd.testing.assert_frame_equal(full, known)
    # and a later delivery of new months leaves the earlier snapshot's features as they were
    wh = Warehouse(tmp_path / "known.duckdb", threads=2)
    try:
        ingest(sim, snapshot=date(2026, 11, 30), warehouse=wh)
        again = compute_features(wh, cut).execute()
    finally:
        wh.close()
    again = again.sort_values("subscriber_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(known, again)


class _EveryVersionPicked:
    """The warehouse, claiming more than one delivery: versions are always picked."""

    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh

    def table(self, name: str) -> Any:
        return self.wh.table(name)

    def extra_columns(self, table_name: str) -> dict[str, str]:
        return self.wh.extra_columns(table_name)

    def single_delivery(self, name: str) -> bool:
        return False


def test_one_delivery_gives_the_features_of_picked_versions(
    tmp_path: Path, warehouse: Warehouse
) -> None:
    """With one delivery a key has one row, so the features skip picking versions (a window
    over every row: the costliest part at 10 M subscribers) and stay the same."""
    day = date(2026, 10, 31)
    ingest(_delivery(tmp_path), snapshot=day, warehouse=warehouse)
    assert warehouse.single_delivery("monthly_usage")
    picked = compute_features(_EveryVersionPicked(warehouse), day).execute()
    direct = compute_features(warehouse, day).execute()
    assert len(direct) == 2
    pd.testing.assert_frame_equal(
        direct.sort_values("subscriber_id").reset_index(drop=True),
        picked.sort_values("subscriber_id").reset_index(drop=True),
    )
    # the same delivery again, a month later: two versions of every key, one of each is used
    ingest(_delivery(tmp_path), snapshot=date(2026, 11, 30), warehouse=warehouse)
    assert not warehouse.single_delivery("monthly_usage")
    assert warehouse.table("monthly_usage").count().execute() == 2 * 12
    again = compute_features(warehouse, day).execute()
    pd.testing.assert_frame_equal(
        direct.sort_values("subscriber_id").reset_index(drop=True),
        again.sort_values("subscriber_id").reset_index(drop=True),
    )


def test_features_in_parts_are_the_features_at_once(tmp_path: Path) -> None:
    """The features step on DuckDB stores the features in ranges of subscriber ids, one after
    another: the same rows as one query, and an input delivered for only some subscribers is
    judged on everyone, not part by part."""
    sim = tmp_path / "sim"
    simulate(subscribers=1500, months=6, seed=11, out=sim, end_month="2026-10")
    day = date(2026, 10, 31)
    with Warehouse(tmp_path / "wh.duckdb", threads=2) as wh:
        ingest(sim, snapshot=day, warehouse=wh)
        first = wh.execute("SELECT min(subscriber_id) FROM subscribers")[0][0]
        # roaming delivered for one subscriber only: kept for everyone (a part of the others
        # alone would have judged it not delivered)
        wh.execute(
            "UPDATE monthly_usage SET roaming_minutes = NULL WHERE subscriber_id <> ?", [first]
        )
        ranges = wh.subscriber_ranges(400)
        assert len(ranges) == 4 and ranges[0].low is None and ranges[-1].high is None
        assert all(a.high == b.low for a, b in itertools.pairwise(ranges))
        whole = compute_features(wh, day).execute()
        missing = undelivered_inputs(wh, day)
        assert "roaming_minutes" not in missing
        parts = [compute_features(wh, day, within=r, not_delivered=missing) for r in ranges]
        assert wh.replace_snapshot_parts("features", parts, day) == len(whole) > 1000
        stored = wh.table("features").execute()
        # the profile is stored in the same parts (of the stored results) as at once
        whole_profile = build_profile(wh, day).execute()
        in_parts = [build_profile(wh, day, within=r) for r in ranges]
        assert wh.replace_snapshot_parts("profile", in_parts, day) == len(whole_profile)
        profile = wh.table("profile").execute()
    pd.testing.assert_frame_equal(
        profile.sort_values("subscriber_id").reset_index(drop=True)[whole_profile.columns],
        whole_profile.sort_values("subscriber_id").reset_index(drop=True),
    )
    assert stored.subscriber_id.is_unique
    pd.testing.assert_frame_equal(
        stored.sort_values("subscriber_id").reset_index(drop=True)[whole.columns],
        whole.sort_values("subscriber_id").reset_index(drop=True),
    )
    roaming = stored.set_index("subscriber_id").roaming_mean_3m.dropna()
    assert roaming.index.tolist() == [first]  # everyone else NULL, the feature not skipped


def test_a_warehouse_from_before_a_contract_column_gains_it_and_skips_its_features(
    tmp_path: Path,
) -> None:
    """A warehouse whose ``monthly_usage`` predates ``dropped_calls`` (the column dropped here
    as an old file would lack it) gets it on opening, empty: its features are skipped as an
    undelivered input's, the others computed as before."""
    path = tmp_path / "old.duckdb"
    with Warehouse(path, threads=2) as wh:
        delivered = f.delivery(tmp_path / "d", subscribers=3)
        ingest(delivered, snapshot=date(2026, 11, 30), warehouse=wh)
        wh.execute("ALTER TABLE monthly_usage DROP COLUMN dropped_calls")
        assert "dropped_calls" not in wh.table("monthly_usage").columns
    with Warehouse(path, threads=2) as wh:
        assert "dropped_calls" in wh.table("monthly_usage").columns
        assert "dropped_calls" in undelivered_inputs(wh, date(2026, 10, 31))
        feats = compute_features(wh, date(2026, 10, 31)).execute()
    assert len(feats) == 3
    assert feats["dropped_calls_3m"].isna().all()
    assert feats["competitor_calls_3m"].notna().all()
