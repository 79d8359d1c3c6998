"""A hand-made warehouse for the weekly / monthly reports and the churn analysis report
(tests/analytics/test_period_reports.py, test_churn_analysis_report.py, tests/ops and web).

Branch codes are the ops fixtures' (HZ with its sub-branch HZ-CA, NB), so published documents
meet the ops test users' scopes. Six subscribers (delivered 2026-10-31):

- A  HZ     brand X, store,  joined 2025-01-01, stays; survey 2026-10-10 score 9
- B  HZ-CA  brand X, online, joined 2025-01-01, left 2026-09-10 (price → 中国电信);
     bills 2026-07 80, 2026-08 100; CLV future value 900 on 2026-08-31
- C  HZ     brand Y, store,  joined 2026-09-15, stays; survey 2026-10-12 score 4
- D  NB     brand Y, store,  joined 2024-01-01, left 2026-10-05 (relocation); complaint
     2026-09-20 network
- E  NB     brand X, store,  joined 2024-01-01, stays; survey 2026-10-20 score 8
- F  NB     brand X, store,  joined 2024-01-01, left 2025-10-08 (competitor offer → 中国移动)

Segments (value tier) on 2026-09-30 and 2026-10-15; retention decisions, contacts (two
accepted in October 2026), closed retention outcomes (two treated, two held out) and a CLV
snapshot: see the row lists below, which the tests read
to compute the expected figures by hand.

``build_report_warehouse(path, segments=False, bills=True)`` is the same operator as loaded
before the pipeline ever ran (no stored segments) with a bill history (``MORE_BILLS``) from
which the value tiers are computed.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import ibis
import pandas as pd

from weiwan.analytics.warehouse import Warehouse

SNAPSHOT = date(2026, 10, 31)
# (id, branch, brand, join channel, joined, left or None)
SUBSCRIBERS: list[tuple[str, str, str, str, date, date | None]] = [
    ("A", "HZ", "X", "store", date(2025, 1, 1), None),
    ("B", "HZ-CA", "X", "online", date(2025, 1, 1), date(2026, 9, 10)),
    ("C", "HZ", "Y", "store", date(2026, 9, 15), None),
    ("D", "NB", "Y", "store", date(2024, 1, 1), date(2026, 10, 5)),
    ("E", "NB", "X", "store", date(2024, 1, 1), None),
    ("F", "NB", "X", "store", date(2024, 1, 1), date(2025, 10, 8)),
]
REASONS = {
    "B": ("price", "中国电信"),
    "D": ("relocation", None),
    "F": ("competitor_offer", "中国移动"),
}
# (id, time, touchpoint, score)
SURVEYS = [
    ("A", datetime(2026, 10, 10, 9), "store", 9),
    ("C", datetime(2026, 10, 12, 9), "hotline", 4),
    ("E", datetime(2026, 10, 20, 9), "store", 8),
]
# bills: (id, bill month, amount); B's are always loaded, MORE_BILLS with bills=True
BILLS = [("B", date(2026, 7, 1), 80.0), ("B", date(2026, 8, 1), 100.0)]
MORE_BILLS = [
    *(("A", date(2026, month, 1), 200.0) for month in (6, 7, 8)),
    ("A", date(2026, 9, 1), 50.0),
    ("C", date(2026, 9, 1), 120.0),
    *(("D", date(2026, month, 1), 60.0) for month in (6, 7, 8)),
    ("D", date(2026, 9, 1), 300.0),
    *(("E", date(2026, month, 1), 10.0) for month in (6, 7, 8, 9)),
]
# value tiers: snapshot -> {subscriber: tier}
SEGMENTS = {
    date(2026, 9, 30): {"A": "gold", "B": "ordinary", "D": "gold", "E": "mass"},
    date(2026, 10, 15): {"A": "mass", "C": "mass", "D": "mass", "E": "mass"},
}
# (day, subscriber, channel, cost, value saved)
DECISIONS = [
    (date(2026, 9, 5), "B", "outbound_call", 20.0, 300.0),
    (date(2026, 10, 2), "A", "outbound_call", 30.0, 500.0),
    (date(2026, 10, 3), "E", "sms", 5.0, 100.0),
]
# closed retention outcomes: (decision day, subscriber, treated, churned) — A and E treated,
# C and D held out (D left)
OUTCOMES = [
    (date(2026, 10, 2), "A", True, False),
    (date(2026, 10, 3), "E", True, False),
    (date(2026, 10, 2), "C", False, False),
    (date(2026, 10, 2), "D", False, True),
]
# (subscriber, time, channel, status, accepted)
CONTACTS = [
    ("A", datetime(2026, 10, 4, 10), "outbound_call", "sent", True),
    ("A", datetime(2026, 10, 20, 10), "sms", "sent", True),
    ("E", datetime(2026, 10, 5, 10), "outbound_call", "sent", False),
    ("E", datetime(2026, 10, 7, 10), "sms", "sent", True),
    ("C", datetime(2026, 10, 8, 10), "outbound_call", "failed", True),
]


def _load(wh: Warehouse, table: str, rows: list[dict[str, Any]]) -> None:
    frame = pd.DataFrame(rows).assign(_snapshot=SNAPSHOT)
    wh.con.con.register("_rows", frame)
    wh.con.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
    wh.con.con.unregister("_rows")


def build_report_warehouse(path: Path, *, segments: bool = True, bills: bool = False) -> Warehouse:
    """The warehouse described in the module doc (open; the caller closes it); without the
    stored ``segments`` and with ``MORE_BILLS`` when asked."""
    wh = Warehouse(path, threads=1)
    _load(
        wh,
        "subscribers",
        [
            {
                "subscriber_id": sid,
                "msisdn": "13900000000",
                "customer_id": sid,
                "region": "R",
                "branch": branch,
                "brand": brand,
                "payment_type": "postpaid",
                "plan_id": "P",
                "plan_monthly_fee": 50.0,
                "join_date": joined,
                "join_channel": channel,
                "status": "active",
                "status_date": joined,
            }
            for sid, branch, brand, channel, joined, _left in SUBSCRIBERS
        ],
    )
    _load(
        wh,
        "churn_records",
        [
            {
                "subscriber_id": sid,
                "churn_date": left,
                "churn_type": "port_out",
                "reason_code": REASONS[sid][0],
                "destination_competitor": REASONS[sid][1],
            }
            for sid, *_rest, left in SUBSCRIBERS
            if left is not None
        ],
    )
    _load(
        wh,
        "monthly_usage",
        [
            {"subscriber_id": sid, "bill_month": month, "bill_amount": amount}
            for sid, month, amount in BILLS + (MORE_BILLS if bills else [])
        ],
    )
    _load(
        wh,
        "complaints",
        [
            {
                "complaint_id": "K1",
                "subscriber_id": "D",
                "complaint_time": datetime(2026, 9, 20, 10, 0),
                "category": "network",
                "severity": "high",
                "resolved": True,
                "hours_to_resolve": 5.0,
            }
        ],
    )
    _load(
        wh,
        "surveys",
        [
            {"survey_id": f"S{i}", "subscriber_id": sid, "survey_time": at, "touchpoint": tp,
             "score": score}
            for i, (sid, at, tp, score) in enumerate(SURVEYS)
        ],
    )  # fmt: skip
    for day, tiers in SEGMENTS.items() if segments else ():
        rows = pd.DataFrame(
            {"subscriber_id": list(tiers), "snapshot_date": day, "value_tier": list(tiers.values())}
        )
        wh.replace_snapshot("segments", ibis.memtable(rows), day)
    decisions = pd.DataFrame(
        [
            {"snapshot_date": day, "subscriber_id": sid, "holdout": False, "action": True,
             "offer_type": "discount", "channel": channel, "cost": cost, "value_saved": value}
            for day, sid, channel, cost, value in DECISIONS
        ]
    )  # fmt: skip
    wh.replace_table("decisions", ibis.memtable(decisions))
    contacts = pd.DataFrame(
        [
            {"contact_id": i, "subscriber_id": sid, "at": at, "contact_date": at.date(),
             "channel": channel, "status": status, "accepted": accepted}
            for i, (sid, at, channel, status, accepted) in enumerate(CONTACTS)
        ]
    )  # fmt: skip
    wh.replace_table("ops_contacts", ibis.memtable(contacts))
    outcomes = pd.DataFrame(
        [
            {"subscriber_id": sid, "snapshot_date": day, "offer_type": "discount",
             "treated": treated, "churned": churned}
            for day, sid, treated, churned in OUTCOMES
        ]
    )  # fmt: skip
    wh.replace_table("retention_outcomes", ibis.memtable(outcomes))
    clv = pd.DataFrame(
        {"subscriber_id": ["B", "D"], "snapshot_date": [date(2026, 8, 31), date(2026, 10, 31)],
         "future_value": [900.0, 5000.0]}
    )  # fmt: skip
    wh.replace_table("clv", ibis.memtable(clv))
    return wh
