"""The simulator's real-time event stream: every event fits the contract, most port-outs are
announced by a code request days before, the stream is in time order and the same per seed,
and writing it changes none of the extracts."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from weiwan.core.event_contract import EVENT_TYPES, check_event
from weiwan.sim import simulate
from weiwan.sim.event_stream import build_event_stream, load_events, time_of

SIZE = {"subscribers": 3000, "months": 6, "end_month": "2026-10"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("events") / "sim"
    summary = simulate(seed=11, out=out, events=True, **SIZE)  # type: ignore[arg-type]
    assert summary.events > 1000
    return out


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*"))}


def test_every_event_fits_the_contract_in_time_order(run: Path) -> None:
    events = load_events(run)
    times = [time_of(e) for e in events]
    assert times == sorted(times)
    now = max(times).to_pydatetime() + timedelta(days=1)
    refused = [why for e in events if (why := check_event(e, now)[1]) is not None]
    assert refused == []
    assert len({e["event_id"] for e in events}) == len(events)
    kinds = {str(e["type"]) for e in events}
    assert {"port_out_code_request", "call_forwarding_on", "complaint"} <= kinds <= set(EVENT_TYPES)
    by_number = sum("msisdn" in e for e in events) / len(events)
    assert 0.4 < by_number < 0.6 and all(("msisdn" in e) != ("subscriber_id" in e) for e in events)


def test_port_outs_are_announced_by_a_code_request_days_before(run: Path) -> None:
    truth = pq.read_table(run / "truth" / "event_truth.parquet").to_pandas()
    events = pq.read_table(run / "events" / "events.parquet").to_pandas()
    codes = truth[events["type"] == "port_out_code_request"]
    churn = pq.read_table(run / "extracts" / "churn_records.parquet").to_pandas()
    ports = set(churn.loc[churn["churn_type"] == "port_out", "subscriber_id"])
    announced = set(codes.loc[codes["ported_within_7d"], "subscriber_id"])
    assert 0.75 <= len(announced & ports) / len(ports) <= 0.95  # 85 % by construction
    assert codes["ported_within_7d"].mean() > 0.6  # most requests are real: a strong signal
    # a forwarding's target is the network the line later ports to
    forwards = events[events["type"] == "call_forwarding_on"].assign(
        owner=truth["subscriber_id"], to=lambda f: f["attributes"].map(json.loads)
    )
    ported = churn.set_index("subscriber_id")["destination_competitor"].dropna()
    leaving = forwards[forwards["owner"].isin(ported.index)]
    assert len(leaving) > 0 and leaving["to"].map(lambda a: a["target_network"]).ne("other").all()


def test_the_stream_is_the_same_per_seed_and_leaves_the_extracts_alone(
    run: Path, tmp_path: Path
) -> None:
    again, truth = build_event_stream(run, 11)
    stored = pq.read_table(run / "events" / "events.parquet").to_pandas()
    pd.testing.assert_frame_equal(again.reset_index(drop=True), stored)
    plain = tmp_path / "plain"
    simulate(seed=11, out=plain, events=False, **SIZE)  # type: ignore[arg-type]
    assert not (plain / "events").exists()
    assert _digest(plain / "extracts") == _digest(run / "extracts")
    assert len(truth) == len(stored)
