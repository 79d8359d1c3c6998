"""The weekly, monthly and churn analysis report documents of bench_pages.py, computed by the
pipeline's own publish (``weiwan.pipeline.publish.reports``) on a small simulated warehouse.

The warehouse has --subscribers lines (default 20,000) over the benchmark's ten branches
(bench_ops_api.CITIES' codes), three brands, every join channel of the data contract, 26
months of churn (about 1.5 % a month, every reason of the contract, destinations by
competitor), bills, complaints, surveys, value tiers, retention decisions, contacts, closed
outcomes (treated and hold-out) and CLV — the tables tests/period_report_fixtures.py fills by
hand. The documents' shape (members per breakdown, sections, findings) is what a 1 M operator
publishes; only the counts in them are smaller. The publish stores every closed week and month
of its window and each month's churn report, once for the whole operator and once per branch.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import sqlalchemy as sa

from bench_ops_api import CITIES
from weiwan.analytics.contract import (
    CHURN_REASONS,
    COMPLAINT_CATEGORIES,
    JOIN_CHANNELS,
    TOUCHPOINTS,
)
from weiwan.analytics.warehouse import Warehouse
from weiwan.pipeline.publish.reports import publish_reports

BRANCH_CODES = [code for city in CITIES for code in (city[0], *city[3])]
BRANDS = ("全球通", "动感地带", "神州行")
TIERS = ("diamond", "gold", "silver", "ordinary", "mass")
COMPETITORS = ("中国电信", "中国联通", "中国广电", None)
OUTBOUND = ("outbound_call", "sms", "account_manager_call", "store")


def _load(wh: Warehouse, table: str, frame: pd.DataFrame, snapshot: date) -> None:
    wh.con.con.register("_rows", frame.assign(_snapshot=snapshot))
    wh.con.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
    wh.con.con.unregister("_rows")


def _months(snapshot: date, count: int) -> list[date]:
    out, year, month = [], snapshot.year, snapshot.month
    for _ in range(count):
        out.append(date(year, month, 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out[::-1]


def build_warehouse(path: Path, snapshot: date, subscribers: int, seed: int = 7) -> Warehouse:
    """The simulated warehouse of the module doc, delivered on ``snapshot`` (open)."""
    rng = np.random.default_rng(seed)
    n = subscribers
    ids = np.array([f"R{i:07d}" for i in range(n)])
    first = snapshot - timedelta(days=26 * 31)
    joined = np.array([first - timedelta(days=int(d)) for d in rng.integers(0, 3000, n)])
    # late joiners: about 10 % joined within the window
    late = rng.random(n) < 0.1
    joined[late] = [
        snapshot - timedelta(days=int(d)) for d in rng.integers(30, 26 * 30, late.sum())
    ]
    leaves = rng.random(n) < 0.3
    left: list[date | None] = [None] * n
    for i in np.flatnonzero(leaves):
        span = (snapshot - joined[i]).days
        if span > 20:
            left[i] = joined[i] + timedelta(days=int(rng.integers(10, span)))
    wh = Warehouse(path, threads=2)
    subs = pd.DataFrame(
        {
            "subscriber_id": ids,
            "msisdn": [f"139{i:08d}" for i in range(n)],
            "customer_id": ids,
            "region": "R",
            "branch": rng.choice(BRANCH_CODES, n),
            "brand": rng.choice(BRANDS, n),
            "payment_type": rng.choice(("prepaid", "postpaid"), n),
            "plan_id": "P",
            "plan_monthly_fee": rng.choice((38.0, 58.0, 96.0, 128.0), n),
            "join_date": joined,
            "join_channel": rng.choice(JOIN_CHANNELS, n),
            "status": ["active" if d is None else "ported_out" for d in left],
            "status_date": [d or j for d, j in zip(left, joined, strict=True)],
        }
    )
    _load(wh, "subscribers", subs, snapshot)
    leavers = [i for i in range(n) if left[i] is not None]
    reasons = rng.choice(CHURN_REASONS, len(leavers))
    _load(
        wh,
        "churn_records",
        pd.DataFrame(
            {
                "subscriber_id": ids[leavers],
                "churn_date": [left[i] for i in leavers],
                "churn_type": rng.choice(("voluntary", "port_out", "involuntary"), len(leavers)),
                "reason_code": reasons,
                "destination_competitor": [
                    COMPETITORS[int(k)] if r in ("price", "competitor_offer", "network_quality")
                    else None
                    for k, r in zip(rng.integers(0, 4, len(leavers)), reasons, strict=True)
                ],
            }
        ),
        snapshot,
    )  # fmt: skip
    months = _months(snapshot, 15)
    bills = pd.DataFrame(
        {
            "subscriber_id": np.repeat(ids, len(months)),
            "bill_month": np.tile(np.array(months, dtype=object), n),
            "bill_amount": np.round(rng.gamma(2.0, 40.0, n * len(months)), 2),
        }
    )
    _load(wh, "monthly_usage", bills, snapshot)
    k = n // 2
    times = [
        datetime.combine(snapshot - timedelta(days=int(d)), datetime.min.time())
        + timedelta(hours=9)
        for d in rng.integers(1, 420, k)
    ]
    _load(
        wh,
        "complaints",
        pd.DataFrame(
            {
                "complaint_id": [f"K{i}" for i in range(k)],
                "subscriber_id": rng.choice(ids, k),
                "complaint_time": times,
                "category": rng.choice(COMPLAINT_CATEGORIES, k),
                "severity": rng.choice(("low", "medium", "high"), k),
                "resolved": rng.random(k) < 0.9,
                "hours_to_resolve": np.round(rng.gamma(2.0, 8.0, k), 1),
            }
        ),
        snapshot,
    )
    _load(
        wh,
        "surveys",
        pd.DataFrame(
            {
                "survey_id": [f"V{i}" for i in range(k)],
                "subscriber_id": rng.choice(ids, k),
                "survey_time": [times[i] for i in rng.permutation(k)],
                "touchpoint": rng.choice(TOUCHPOINTS, k),
                "score": rng.integers(1, 11, k),
            }
        ),
        snapshot,
    )
    for day in [m - timedelta(days=1) for m in months[1:]] + [snapshot]:
        tiers = pd.DataFrame(
            {"subscriber_id": ids, "snapshot_date": day, "value_tier": rng.choice(TIERS, n)}
        )
        wh.replace_snapshot("segments", ibis.memtable(tiers), day)
    d = n * 2
    days = [snapshot - timedelta(days=int(x)) for x in rng.integers(1, 420, d)]
    chosen = rng.choice(ids, d)
    wh.replace_table(
        "decisions",
        ibis.memtable(
            pd.DataFrame(
                {
                    "snapshot_date": days,
                    "subscriber_id": chosen,
                    "holdout": rng.random(d) < 0.1,
                    "action": True,
                    "offer_type": rng.choice(("discount", "bonus_data", "care_call"), d),
                    "channel": rng.choice(OUTBOUND, d),
                    "cost": np.round(rng.uniform(5, 120, d), 2),
                    "value_saved": np.round(rng.uniform(50, 1500, d), 2),
                }
            )
        ),
    )
    at = [datetime.combine(x, datetime.min.time()) + timedelta(hours=10) for x in days]
    wh.replace_table(
        "ops_contacts",
        ibis.memtable(
            pd.DataFrame(
                {
                    "contact_id": np.arange(d),
                    "subscriber_id": chosen,
                    "at": at,
                    "contact_date": days,
                    "channel": rng.choice(OUTBOUND, d),
                    "status": rng.choice(("sent", "sent", "sent", "failed"), d),
                    "accepted": rng.random(d) < 0.2,
                }
            )
        ),
    )
    wh.replace_table(
        "retention_outcomes",
        ibis.memtable(
            pd.DataFrame(
                {
                    "subscriber_id": chosen,
                    "snapshot_date": days,
                    "offer_type": "discount",
                    "treated": rng.random(d) < 0.9,
                    "churned": rng.random(d) < 0.12,
                }
            )
        ),
    )
    wh.replace_table(
        "clv",
        ibis.memtable(
            pd.DataFrame(
                {
                    "subscriber_id": np.concatenate([ids, ids]),
                    "snapshot_date": [months[-4] - timedelta(days=1)] * n + [snapshot] * n,
                    "future_value": np.round(rng.gamma(2.0, 900.0, 2 * n), 2),
                }
            )
        ),
    )
    return wh


def publish_documents(
    engine: sa.Engine, home: Path, snapshot: date, subscribers: int = 20_000
) -> dict[str, Any]:
    """Build the warehouse under ``home`` and publish its reports into ``engine``'s database;
    the documents written and their mean size."""
    wh = build_warehouse(home / "reports.duckdb", snapshot, subscribers)
    try:
        written = publish_reports(wh, engine, snapshot)
    finally:
        wh.close()
    with engine.connect() as conn:
        size = conn.execute(
            sa.text("SELECT avg(length(document)), max(length(document)) FROM period_reports")
        ).one()
    return {"documents": written, "mean_chars": int(size[0] or 0), "max_chars": int(size[1] or 0)}
