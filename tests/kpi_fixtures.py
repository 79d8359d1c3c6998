"""A hand-made warehouse of five subscribers in two branches, small enough to compute every
dashboard figure by hand (tests/analytics/test_kpis.py, tests/pipeline/test_publish_metrics.py).

Subscribers (delivered 2026-10-31):
- A  branch B1, brand X, store, postpaid, joined 2025-01-01, stays; survey 2026-10-10 score 9
- B  branch B1, brand X, online, prepaid, joined 2025-01-01, left 2026-09-10 (price → 中国电信);
     bills 2026-07 80, 2026-08 100
- C  branch B1, brand Y, store, postpaid, joined 2026-09-15, stays; survey 2026-10-12 score 4
- D  branch B2, brand Y, store, postpaid, joined 2024-01-01, left 2026-10-05 (relocation);
     complaint 2026-09-20 network, resolved in 5 h
- E  branch B2, brand X, store, postpaid, joined 2024-01-01, stays; survey 2026-10-20 score 8
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd

from weiwan.analytics.warehouse import Warehouse

SNAPSHOT = date(2026, 10, 31)


def _load(wh: Warehouse, table: str, rows: list[dict[str, object]]) -> None:
    frame = pd.DataFrame(rows).assign(_snapshot=SNAPSHOT)
    wh.con.con.register("_rows", frame)
    wh.con.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
    wh.con.con.unregister("_rows")


def build_warehouse(path: Path) -> Warehouse:
    """The warehouse described in the module doc (open; the caller closes it)."""
    wh = Warehouse(path, threads=1)

    def sub(
        sid: str, branch: str, brand: str, channel: str, pay: str, joined: str
    ) -> dict[str, object]:
        return {
            "subscriber_id": sid,
            "msisdn": "13900000000",
            "customer_id": sid,
            "region": "R",
            "branch": branch,
            "brand": brand,
            "payment_type": pay,
            "plan_id": "P",
            "plan_monthly_fee": 50.0,
            "join_date": date.fromisoformat(joined),
            "join_channel": channel,
            "status": "active",
            "status_date": date.fromisoformat(joined),
        }

    _load(
        wh,
        "subscribers",
        [
            sub("A", "B1", "X", "store", "postpaid", "2025-01-01"),
            sub("B", "B1", "X", "online", "prepaid", "2025-01-01"),
            sub("C", "B1", "Y", "store", "postpaid", "2026-09-15"),
            sub("D", "B2", "Y", "store", "postpaid", "2024-01-01"),
            sub("E", "B2", "X", "store", "postpaid", "2024-01-01"),
        ],
    )
    _load(
        wh,
        "churn_records",
        [
            {
                "subscriber_id": "B",
                "churn_date": date(2026, 9, 10),
                "churn_type": "port_out",
                "reason_code": "price",
                "destination_competitor": "中国电信",
            },
            {
                "subscriber_id": "D",
                "churn_date": date(2026, 10, 5),
                "churn_type": "voluntary",
                "reason_code": "relocation",
                "destination_competitor": None,
            },
        ],
    )
    _load(
        wh,
        "monthly_usage",
        [
            {"subscriber_id": "B", "bill_month": date(2026, 7, 1), "bill_amount": 80.0},
            {"subscriber_id": "B", "bill_month": date(2026, 8, 1), "bill_amount": 100.0},
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
            {"survey_id": "S1", "subscriber_id": "A", "survey_time": datetime(2026, 10, 10, 9),
             "touchpoint": "store", "score": 9},
            {"survey_id": "S2", "subscriber_id": "C", "survey_time": datetime(2026, 10, 12, 9),
             "touchpoint": "hotline", "score": 4},
            {"survey_id": "S3", "subscriber_id": "E", "survey_time": datetime(2026, 10, 20, 9),
             "touchpoint": "store", "score": 8},
        ],
    )  # fmt: skip
    return wh
