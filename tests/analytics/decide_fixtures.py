"""A small day of the decisions built from memtables (tests/analytics: test_decide_empty and
test_decide_objections): the profile, the day's fired rules, a one-policy library."""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from weiwan.analytics.alerts import ALERT_SCHEMA
from weiwan.analytics.policies import PolicyLibrary, load_policies, validate_library

DAY = date(2027, 6, 30)
PROFILE_TYPES = {
    "subscriber_id": "string",
    "plan_id": "string",
    "plan_monthly_fee": "float64",
    "status": "string",
    "risk_band": "string",
    "churn_probability": "float64",
    "future_value": "float64",
    "arpu_1m": "float64",
    "reason_1_feature": "string",
    "value_tier": "string",
    "has_account_manager": "boolean",
}


def profile_table(rows: list[dict[str, Any]]) -> ir.Table:
    """The day's profile of ``rows`` (see :func:`subscriber_row`)."""
    frame = pd.DataFrame(rows, columns=list(PROFILE_TYPES))
    return ibis.memtable(frame.astype(PROFILE_TYPES)).cast(PROFILE_TYPES)


def alerts_table(rows: list[dict[str, Any]]) -> ir.Table:
    """The day's fired alert and care rules (see :func:`care_alert`)."""
    frame = pd.DataFrame(rows, columns=list(ALERT_SCHEMA))
    frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"])
    return ibis.memtable(frame).cast(ALERT_SCHEMA)


def subscriber_row(sid: str, band: str) -> dict[str, Any]:
    """A subscriber of plan TC096 at ``band`` risk (high: probability 0.4), worth 6 000 yuan:
    the 504-yuan policy clears the shipped return on spend (2 yuan per yuan) at high risk."""
    return {
        "subscriber_id": sid,
        "plan_id": "TC096",
        "plan_monthly_fee": 96.0,
        "status": "active",
        "risk_band": band,
        "churn_probability": 0.4 if band == "high" else 0.01,
        "future_value": 6000.0,
        "arpu_1m": 96.0,
        "reason_1_feature": "bill_shock",
        "value_tier": "silver",
        "has_account_manager": False,
    }


def care_alert(sid: str, action_hint: str = "sms_care") -> dict[str, Any]:
    """A care rule fired for ``sid`` on :data:`DAY` (``action_hint``: its channel)."""
    return {
        "subscriber_id": sid,
        "rule_id": "birthday_care",
        "kind": "care",
        "severity": "low",
        "period_key": "2027-06",
        "snapshot_date": DAY,
        "evidence": "",
        "action_hint": action_hint,
    }


def policy_library(*, valid_to: date | None) -> PolicyLibrary:
    """The shipped value caps with one 96-yuan policy ending ``valid_to`` (None: no policy),
    offered by outbound call and in store."""
    shipped = load_policies()
    entries = []
    if valid_to is not None:
        entries.append(
            {
                "id": "p96",
                "name_zh": "预存168元送504元话费",
                "name_en": "Prepay 168 get 504",
                "offer_type": "prepay_and_get",
                "target": {"field": "plan_id", "op": "=", "value": "TC096"},
                "valid_from": date(2026, 1, 1),
                "valid_to": valid_to,
                "min_spend": 96,
                "prepay": 168,
                "limit": {"times": 1, "per_months": 12},
                "cost": {"kind": "monthly", "amount": 42, "months": 12},
                "channels": ["outbound_call", "store"],
                "approval": "approved",
            }
        )
    report = validate_library(entries, shipped.target_groups)
    assert report.ok, report.errors
    return PolicyLibrary(report.valid, (), (), shipped.value_caps, shipped.target_groups, "(test)")
