"""The simulated operator's real-time event stream (实时事件流), derived from what it delivered.

Written after the extracts by :func:`write_event_stream` to ``<out>/events/events.parquet`` (the
contract of ``weiwan.core.event_contract``, in time order, local times with their +08:00
offset) with ``<out>/truth/event_truth.parquet`` beside it (evaluation only):

- ``port_out_code_request``: most port-outs (85 %) ask for the authorisation code 0–3 days
  before the line leaves; a few lines that stay ask too (0.2 % a month);
- ``call_forwarding_on``: every forwarding the status events record, to the network the line
  later ports to, else any;
- ``competitor_hotline_call``: each month's calls to a competitor's service line, on random days;
- ``pre_disconnect_request``: every pre-disconnect status event;
- ``complaint``: every complaint;
- ``store_visit``: noise — 1 % of the lines a month visit a store.

Its own random stream (seeded from the run's seed and a constant), so the extracts are the same
with or without it. Half the events name the line by ``subscriber_id``, half by ``msisdn``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import csv

#: the stream's own seed offset (a constant: the extracts' streams stay untouched)
STREAM = 20_240_520
OFFSET = "+08:00"
CODE_SHARE, CODE_DAYS, CODE_NOISE = 0.85, 3, 0.002
STORE_VISITS = 0.01
NETWORKS = {"中国电信": "china_telecom", "中国联通": "china_unicom", "中国广电": "china_broadnet"}
COMPLAINT_SEVERITY = {"low": "low", "medium": "medium", "high": "high"}


def _read(out: Path, name: str) -> pd.DataFrame:
    folder = out / "extracts"
    if (folder / f"{name}.parquet").exists():
        frame: pd.DataFrame = pq.read_table(folder / f"{name}.parquet").to_pandas()
    else:
        frame = csv.read_csv(folder / f"{name}.csv").to_pandas()
    return frame


def _in_hours(rng: np.random.Generator, days: pd.Series) -> pd.Series:
    """A time of day between 08:00 and 22:00 on each day."""
    seconds = rng.integers(8 * 3600, 22 * 3600, len(days))
    return pd.to_datetime(days).dt.normalize() + pd.to_timedelta(seconds, unit="s")


def _frame(
    kind: str, ids: pd.Series, times: pd.Series, attributes: list[dict[str, object]]
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "subscriber_id": ids.to_numpy(),
            "type": kind,
            "local_time": pd.to_datetime(times).to_numpy(),
            "attributes": [json.dumps(a, ensure_ascii=False, sort_keys=True) for a in attributes],
        }
    )


def build_event_stream(out: Path, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events, truth) of a simulation folder (see the module doc)."""
    rng = np.random.default_rng([seed, STREAM])
    subs = _read(out, "subscribers")[["subscriber_id", "msisdn"]]
    churn = _read(out, "churn_records")
    status = _read(out, "status_events")
    status["event_time"] = pd.to_datetime(status["event_time"])
    first, last = status["event_time"].min(), status["event_time"].max()
    ports = churn[churn["churn_type"] == "port_out"].copy()
    ports["churn_date"] = pd.to_datetime(ports["churn_date"])
    network = dict(zip(ports["subscriber_id"], ports["destination_competitor"], strict=True))
    parts = []
    # code requests before port-outs, and by a few who stay
    asks = ports[rng.random(len(ports)) < CODE_SHARE]
    ahead = pd.to_timedelta(rng.integers(0, CODE_DAYS + 1, len(asks)), unit="D")
    channels = rng.choice(["sms", "app", "store", "hotline"], len(asks), p=[0.6, 0.25, 0.1, 0.05])
    parts.append(
        _frame(
            "port_out_code_request",
            asks["subscriber_id"],
            _in_hours(rng, asks["churn_date"] - ahead),
            [{"channel": c} for c in channels],
        )
    )
    months = max(1, round((last - first).days / 30.4))
    stayers = subs[~subs["subscriber_id"].isin(churn["subscriber_id"])]
    noisy = stayers.sample(
        n=int(len(stayers) * CODE_NOISE * months), random_state=int(rng.integers(2**31))
    )
    noise_days = first + pd.to_timedelta(rng.integers(0, (last - first).days + 1, len(noisy)), "D")
    parts.append(
        _frame(
            "port_out_code_request",
            noisy["subscriber_id"],
            _in_hours(rng, pd.Series(noise_days)),
            [{"channel": "sms"}] * len(noisy),
        )
    )
    # forwarding, to the network the line later ports to
    forwards = status[status["event_type"] == "call_forwarding_on"]
    others = [*NETWORKS.values(), "other"]
    targets = [
        NETWORKS.get(str(network.get(s)), others[int(rng.integers(len(others)))])
        for s in forwards["subscriber_id"]
    ]
    parts.append(
        _frame(
            "call_forwarding_on",
            forwards["subscriber_id"],
            forwards["event_time"],
            [{"target_network": t} for t in targets],
        )
    )
    pre = status[status["event_type"] == "pre_disconnect"]
    parts.append(
        _frame(
            "pre_disconnect_request",
            pre["subscriber_id"],
            pre["event_time"],
            [{"channel": "store"}] * len(pre),
        )
    )
    complaints = _read(out, "complaints")
    parts.append(
        _frame(
            "complaint",
            complaints["subscriber_id"],
            complaints["complaint_time"],
            [
                {"category": c, "severity": COMPLAINT_SEVERITY.get(s, "medium")}
                for c, s in zip(complaints["category"], complaints["severity"], strict=True)
            ],
        )
    )
    usage = _read(out, "monthly_usage")[["subscriber_id", "bill_month", "competitor_service_calls"]]
    calls = usage[usage["competitor_service_calls"].fillna(0) > 0]
    repeat = calls["competitor_service_calls"].astype(int).to_numpy()
    who = np.repeat(calls["subscriber_id"].to_numpy(), repeat)
    month = pd.to_datetime(pd.Series(np.repeat(calls["bill_month"].astype(str).to_numpy(), repeat)))
    day = month + pd.to_timedelta(rng.integers(0, 28, len(who)), unit="D")
    rival = rng.choice(list(NETWORKS.values()), len(who))
    parts.append(
        _frame(
            "competitor_hotline_call",
            pd.Series(who),
            _in_hours(rng, pd.Series(day)),
            [
                {"competitor": r, "duration_seconds": int(d)}
                for r, d in zip(rival, rng.integers(30, 900, len(who)), strict=True)
            ],
        )
    )
    visitors = subs.sample(
        n=int(len(subs) * STORE_VISITS * months), random_state=int(rng.integers(2**31))
    )
    visit_days = first + pd.to_timedelta(
        rng.integers(0, (last - first).days + 1, len(visitors)), "D"
    )
    parts.append(
        _frame(
            "store_visit",
            visitors["subscriber_id"],
            _in_hours(rng, pd.Series(visit_days)),
            [{"purpose": "enquiry"}] * len(visitors),
        )
    )
    events = pd.concat(parts, ignore_index=True)
    events = events.sort_values(["local_time", "subscriber_id", "type"], kind="mergesort")
    events = events.reset_index(drop=True)
    events["event_id"] = [f"sim-{seed}-{i:09d}" for i in range(len(events))]
    by_msisdn = rng.random(len(events)) < 0.5
    events["msisdn"] = events["subscriber_id"].map(subs.set_index("subscriber_id")["msisdn"])
    events.loc[by_msisdn, "subscriber_id"] = None
    events.loc[~by_msisdn, "msisdn"] = None
    events["time"] = events["local_time"].dt.strftime("%Y-%m-%dT%H:%M:%S") + OFFSET
    port_date = ports.set_index("subscriber_id")["churn_date"]
    owner = events["subscriber_id"].fillna(
        events["msisdn"].map(subs.set_index("msisdn")["subscriber_id"])
    )
    truth = pd.DataFrame({"event_id": events["event_id"], "subscriber_id": owner})
    truth["port_out_date"] = owner.map(port_date)
    window = (truth["port_out_date"] - events["local_time"].dt.normalize()).dt.days
    truth["ported_within_7d"] = window.between(0, 7).fillna(False).astype(bool)
    columns = ["event_id", "subscriber_id", "msisdn", "type", "time", "attributes"]
    return events[columns], truth


def write_event_stream(out: Path, seed: int) -> int:
    """Build and write the stream of the simulation in ``out``; the events written."""
    events, truth = build_event_stream(out, seed)
    (out / "events").mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.Table.from_pandas(events, preserve_index=False), out / "events" / "events.parquet"
    )
    truth_table = pa.Table.from_pandas(truth, preserve_index=False)
    pq.write_table(truth_table, out / "truth" / "event_truth.parquet")
    return len(events)


def load_events(folder: Path) -> list[dict[str, object]]:
    """The events of ``<folder>/events/events.parquet`` (or the file itself) as contract
    objects, in time order."""
    path = folder if folder.is_file() else folder / "events" / "events.parquet"
    frame = pq.read_table(path).to_pandas()
    out: list[dict[str, object]] = []
    for row in frame.itertuples(index=False):
        item: dict[str, object] = {"event_id": row.event_id, "type": row.type, "time": row.time}
        if isinstance(row.subscriber_id, str):
            item["subscriber_id"] = row.subscriber_id
        if isinstance(row.msisdn, str):
            item["msisdn"] = row.msisdn
        item["attributes"] = json.loads(str(row.attributes))
        out.append(item)
    return out


def time_of(event: dict[str, object]) -> pd.Timestamp:
    """An event's time (aware)."""
    return pd.Timestamp(str(event["time"]))


__all__ = ["build_event_stream", "load_events", "write_event_stream"]
