"""Published rows for ops tests: customers, policies, decisions, contact rules."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import Engine

from weiwan.core.db import session_scope
from weiwan.core.months import OPEN_END
from weiwan.ops.customers.models import CustomerView, PublishedDecision
from weiwan.ops.offers.models import PublishedPolicy
from weiwan.ops.org.models import ConfigDocument

SNAPSHOT = date(2026, 10, 31)
POLICIES = ("keep168", "data10", "care_call")


def customer(subscriber_id: str, branch_id: int, **overrides: Any) -> CustomerView:
    """A published customer with plausible values; ``overrides`` set any column."""
    number = int(subscriber_id[1:])
    values: dict[str, Any] = {
        "subscriber_id": subscriber_id,
        "snapshot_date": SNAPSHOT,
        "msisdn": f"138{number:08d}",
        "customer_id": f"C{number:06d}",
        "name": f"客户{number}",
        "id_number": f"45010219900101{number % 10000:04d}",
        "gender": "F" if number % 2 else "M",
        "age": 30 + number % 40,
        "region": "HZ",
        "branch_code": "HZ",
        "branch_id": branch_id,
        "brand": "gotone",
        "payment_type": "postpaid",
        "plan_id": "TC096",
        "plan_monthly_fee": 96.0,
        "tenure_months": 24 + number % 100,
        "status": "active",
        "value_tier": "ordinary",
        "lifecycle_stage": "maturity",
        "clv_quadrant": "keep",
        "future_value": 1200.0,
        "arpu_1m": 96.0,
        "churn_probability": 0.2,
        "risk_band": "high",
        "reasons": json.dumps([{"zh": "异网通话增加", "en": "more off-net calls", "feature": "x"}]),
        "tags": " high_offnet_caller ",
        "eligible_policies": " " + " ".join(POLICIES) + " ",
    }
    values.update(overrides)
    return CustomerView(**values)


def policy(policy_id: str, **overrides: Any) -> PublishedPolicy:
    """A published, valid policy."""
    values: dict[str, Any] = {
        "policy_id": policy_id,
        "name_zh": f"政策{policy_id}",
        "name_en": f"Policy {policy_id}",
        "description": "",
        "offer_type": "discount",
        "valid_from": date(2026, 1, 1),
        "valid_to": OPEN_END,  # no end: valid whatever today is
        "min_spend": 0.0,
        "total_cost": 120.0,
        "benefit_value": 120.0,
        "commitment_months": 12,
        "channels": " outbound_call sms store hotline self_service account_manager_call ",
        "script_zh": "您好，这是为您准备的优惠",
        "script_en": "Hello, an offer for you",
        "approval": "approved",
    }
    values.update(overrides)
    return PublishedPolicy(**values)


def publish_customers(engine: Engine, branch_id: int, count: int, **overrides: Any) -> list[str]:
    """``count`` customers S00001… in ``branch_id`` plus the policies; their ids."""
    ids = [f"S{n:05d}" for n in range(1, count + 1)]
    with session_scope(engine) as session:
        session.add_all(customer(sid, branch_id, **overrides) for sid in ids)
        for pid in POLICIES:
            if session.get(PublishedPolicy, pid) is None:
                session.add(policy(pid))
    return ids


def publish_rules(engine: Engine, rules: dict[str, Any]) -> None:
    """Publish contact rules (the JSON form of ``core.contact_rules.ContactRules``)."""
    with session_scope(engine) as session:
        session.merge(ConfigDocument(name="contact_rules", content=json.dumps(rules)))


def decision(subscriber_id: str, channel: str, **overrides: Any) -> PublishedDecision:
    """A published next-best-action row that acts."""
    values: dict[str, Any] = {
        "snapshot_date": SNAPSHOT,
        "subscriber_id": subscriber_id,
        "trigger": "risk",
        "trigger_kind": "risk",
        "holdout": False,
        "action": True,
        "outcome": "act",
        "policy_id": "keep168",
        "offer_type": "discount",
        "channel": channel,
        "churn_probability": 0.3,
        "driver": "price",
        "uplift": 0.1,
        "value_saved": 100.0,
        "cost": 10.0,
        "expected_value": 90.0,
        "why_zh": "高风险",
        "why_en": "high risk",
    }
    values.update(overrides)
    return PublishedDecision(**values)
