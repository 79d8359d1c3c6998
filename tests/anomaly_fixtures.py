"""A hand-made warehouse for the anomaly pool: for every shipped anomaly rule, subscribers built
to contain the anomaly (``<case>_hit``) and a clean twin just across the rule's line
(``<case>_clean``), plus one ordinary subscriber (``base``) on which no rule fires.

Every subscriber starts as ``base``: postpaid, active, branch B1, joined 2024-01-01, bills of
80 CNY in 2026-07 … 2026-10, nothing owed, no status events. A case changes only what its
anomaly needs. Snapshot 2026-10-31 (a month end: the last complete bill month is 2026-10).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from weiwan.analytics.warehouse import Warehouse

SNAPSHOT = date(2026, 10, 31)
MONTHS = (date(2026, 7, 1), date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1))


@dataclass(frozen=True)
class Sub:
    """One subscriber's deviations from ``base``."""

    status: str = "active"
    payment_type: str = "postpaid"
    #: bill month (YYYY-MM) -> column -> value, over the base usage row
    usage: dict[str, dict[str, float]] = field(default_factory=dict)
    #: (YYYY-MM-DD, event type)
    events: tuple[tuple[str, str], ...] = ()
    #: (YYYY-MM-DD, churn type)
    churn: tuple[str, str] | None = None
    account_manager: str | None = None


OCT = "2026-10"
#: rule id -> [(case name, anomalous subscriber, clean twin)]
CASES: dict[str, list[tuple[str, Sub, Sub]]] = {
    "bill_far_above": [
        (
            "bill_far_above",
            Sub(usage={OCT: {"bill_amount": 160.0}}, account_manager="王经理"),
            Sub(usage={OCT: {"bill_amount": 159.0}}),
        )
    ],
    "bill_far_below": [
        (
            "bill_far_below",
            Sub(usage={OCT: {"bill_amount": 24.0}}),
            Sub(usage={OCT: {"bill_amount": 25.0}}),
        )
    ],
    "zero_bill_active": [
        (
            "zero_bill_active",
            Sub(usage={OCT: {"bill_amount": 0.0}}),
            Sub(status="suspended", usage={OCT: {"bill_amount": 0.0}}),
        )
    ],
    "arrears_after_suspension": [
        (
            "arrears_after_suspension",
            Sub(
                status="suspended_arrears",
                usage={OCT: {"arrears_amount": 50.0, "balance": -50.0}},
                events=(("2026-10-15", "suspend_arrears"),),
            ),
            Sub(status="suspended_arrears", events=(("2026-10-15", "suspend_arrears"),)),
        )
    ],
    "balance_below_floor": [
        (
            "balance_below_floor",
            Sub(usage={OCT: {"balance": -100.01, "arrears_amount": 100.01}}),
            Sub(usage={OCT: {"balance": -100.0, "arrears_amount": 100.0}}),
        )
    ],
    "pre_disconnect_request": [
        (
            "pre_disconnect_request",
            Sub(status="pre_disconnect", events=(("2026-10-24", "pre_disconnect"),)),
            Sub(status="pre_disconnect", events=(("2026-10-23", "pre_disconnect"),)),
        )
    ],
    "disconnect_request": [
        (
            "disconnect_request",
            Sub(
                status="disconnected",
                events=(("2026-10-30", "disconnect"),),
                churn=("2026-10-30", "voluntary"),
            ),
            Sub(
                status="disconnected",
                events=(("2026-10-20", "disconnect"),),
                churn=("2026-10-20", "voluntary"),
            ),
        )
    ],
    "port_out_request": [
        (
            "port_out_request",
            Sub(
                status="disconnected",
                events=(("2026-10-29", "port_out"),),
                churn=("2026-10-29", "port_out"),
            ),
            Sub(
                status="disconnected",
                events=(("2026-10-23", "port_out"),),
                churn=("2026-10-23", "port_out"),
            ),
        )
    ],
    "status_conflict": [
        (
            "conflict_active",
            Sub(status="active", events=(("2026-10-20", "pre_disconnect"),)),
            Sub(status="pre_disconnect", events=(("2026-10-20", "pre_disconnect"),)),
        ),
        (
            "conflict_resume",
            Sub(
                status="disconnected",
                events=(("2026-09-01", "disconnect"), ("2026-10-28", "resume")),
            ),
            Sub(
                status="active",
                events=(("2026-09-01", "suspend"), ("2026-10-28", "resume")),
            ),
        ),
    ],
}


def subscribers() -> dict[str, Sub]:
    """Every subscriber of the warehouse by id."""
    out = {"base": Sub(account_manager="王经理")}
    for cases in CASES.values():
        for name, hit, clean in cases:
            out[f"{name}_hit"] = hit
            out[f"{name}_clean"] = clean
    return out


def _load(wh: Warehouse, table: str, rows: list[dict[str, Any]], snapshot: date) -> None:
    if not rows:
        return
    frame = pd.DataFrame(rows).assign(_snapshot=snapshot)
    wh.con.con.register("_rows", frame)
    wh.con.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
    wh.con.con.unregister("_rows")


def _usage_row(sid: str, month: date, sub: Sub) -> dict[str, Any]:
    row: dict[str, Any] = {
        "subscriber_id": sid,
        "bill_month": month,
        "bill_amount": 80.0,
        "voice_minutes": 300.0,
        "offnet_voice_share": 0.2,
        "data_mb": 5000.0,
        "sms_count": 20,
        "vas_amount": 5.0,
        "roaming_minutes": 0.0,
        "competitor_service_calls": 0,
        "call_forwarding_days": 0,
        "zero_usage_days": 0,
        "recharge_amount": 0.0,
        "balance": 0.0,
        "arrears_amount": 0.0,
        "distinct_contacts": 30,
    }
    row.update(sub.usage.get(month.strftime("%Y-%m"), {}))
    return row


def load_subscribers(wh: Warehouse, subs: dict[str, Sub], snapshot: date = SNAPSHOT) -> None:
    """Insert ``subs`` (id -> deviations) with their usage, events and churn records."""
    _load(
        wh,
        "subscribers",
        [
            {
                "subscriber_id": sid,
                "msisdn": f"139{n:08d}",
                "customer_id": sid,
                "region": "R1",
                "branch": "B1",
                "brand": "X",
                "payment_type": sub.payment_type,
                "plan_id": "P58",
                "plan_monthly_fee": 58.0,
                "join_date": date(2024, 1, 1),
                "join_channel": "store",
                "account_manager": sub.account_manager,
                "status": sub.status,
                "status_date": date(2024, 1, 1),
            }
            for n, (sid, sub) in enumerate(sorted(subs.items()))
        ],
        snapshot,
    )
    _load(
        wh,
        "monthly_usage",
        [_usage_row(sid, m, sub) for sid, sub in subs.items() for m in MONTHS],
        snapshot,
    )
    _load(
        wh,
        "status_events",
        [
            {
                "subscriber_id": sid,
                "event_time": datetime.fromisoformat(day + " 10:00:00"),
                "event_type": kind,
            }
            for sid, sub in subs.items()
            for day, kind in sub.events
        ],
        snapshot,
    )
    _load(
        wh,
        "churn_records",
        [
            {
                "subscriber_id": sid,
                "churn_date": date.fromisoformat(sub.churn[0]),
                "churn_type": sub.churn[1],
            }
            for sid, sub in subs.items()
            if sub.churn is not None
        ],
        snapshot,
    )


def build_warehouse(path: Path) -> Warehouse:
    """The warehouse of the module doc (open; the caller closes it)."""
    wh = Warehouse(path, threads=1)
    load_subscribers(wh, subscribers())
    return wh


def pool_entry(subscriber_id: str, branch_id: int | None, **overrides: Any) -> Any:
    """An anomaly-pool entry (ops model) with plausible values; ``overrides`` set any column."""
    from weiwan.ops.anomalies.models import Anomaly

    values: dict[str, Any] = {
        "subscriber_id": subscriber_id,
        "rule_id": "bill_far_above",
        "period_key": "2026-10",
        "category": "billing",
        "severity": "high",
        "name_zh": "账单异常偏高",
        "name_en": "Bill far above own mean",
        "evidence": '{"bill_month": "2026-10-01", "bill_1m": 160.0, "bill_mean_prev_3m": 80.0}',
        "detected_on": SNAPSHOT,
        "branch_code": "HZ",
        "branch_id": branch_id,
        "value_tier": "gold",
        "account_manager": None,
        "status": "new",
    }
    values.update(overrides)
    return Anomaly(**values)
