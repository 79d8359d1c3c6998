"""Published customers and policies for the campaign tests: a few hundred realistic rows."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine

from weiwan.core.db import session_scope
from weiwan.core.months import OPEN_END
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.offers.models import PublishedPolicy

SNAPSHOT = date(2026, 10, 31)
TIERS = ("diamond", "gold", "silver", "ordinary", "mass")
STAGES = ("onboarding", "growth", "maturity", "decline")
QUADRANTS = ("develop", "cultivate", "retain", "maintain")
BANDS = ("low", "medium", "high")
TAGS = ("high_offnet_caller", "usage_drop", "contract_expiring", "complainer", "x_y")
#: customers per branch key of the ``branches`` fixture
PER_BRANCH = {"city": 200, "rural_a": 100, "rural_b": 50, "other": 50}
POLICIES: dict[str, dict[str, Any]] = {
    "keep168": {"offer_type": "discount", "total_cost": 120.0},
    "data10": {"offer_type": "bonus_data", "total_cost": 30.0},
}


def customer_rows(branches: dict[str, int], seed: int = 7) -> list[dict[str, Any]]:
    """Deterministic customer_view rows S00001… spread over the branches."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    number = 0
    for key, count in PER_BRANCH.items():
        for _ in range(count):
            number += 1
            tier = rng.choice(TIERS)
            probability = round(rng.random() ** 2, 4)
            tags = [t for t in TAGS if rng.random() < 0.3]
            rows.append(
                {
                    "subscriber_id": f"S{number:05d}",
                    "snapshot_date": SNAPSHOT,
                    "msisdn": f"138{number:08d}",
                    "customer_id": f"C{number:06d}",
                    "name": f"客户{number}",
                    "id_number": f"33010219800101{number:04d}",
                    "gender": rng.choice(("F", "M", None)),
                    "age": rng.randint(18, 80),
                    "region": key,
                    "branch_code": key.upper(),
                    "branch_id": branches[key],
                    "brand": rng.choice(("gotone", "mzone", "easyown")),
                    "payment_type": rng.choice(("prepaid", "postpaid")),
                    "plan_id": rng.choice(("TC096", "TC126", "TC058")),
                    "plan_monthly_fee": rng.choice((58.0, 96.0, 126.0)),
                    "join_date": date(2015, 1, 1) + timedelta(days=rng.randint(0, 3800)),
                    "tenure_months": rng.randint(1, 130),
                    "contract_end_date": (
                        None
                        if rng.random() < 0.3
                        else date(2026, 6, 1) + timedelta(days=rng.randint(0, 500))
                    ),
                    "status": "active",
                    "star_level": rng.randint(1, 7),
                    "arpu_1m": None if rng.random() < 0.1 else round(rng.uniform(8, 260), 2),
                    "value_tier": tier,
                    "lifecycle_stage": rng.choice(STAGES),
                    "clv_quadrant": rng.choice(QUADRANTS),
                    "future_value": round(rng.uniform(100, 5000), 2),
                    "churn_probability": probability,
                    "risk_band": "high"
                    if probability > 0.5
                    else "medium"
                    if probability > 0.2
                    else "low",
                    "model_version": "v1",
                    "reasons": "[]",
                    "tags": (" " + " ".join(tags) + " ") if tags else None,
                    "eligible_policies": rng.choice((" keep168 data10 ", " data10 ", None)),
                }
            )
    return rows


def policy_rows() -> list[dict[str, Any]]:
    """The published policies the plans name."""
    return [
        {
            "policy_id": pid,
            "name_zh": f"政策{pid}",
            "name_en": f"Policy {pid}",
            "description": "",
            "offer_type": values["offer_type"],
            "valid_from": date(2026, 1, 1),
            "valid_to": OPEN_END,  # no end: valid whatever today is
            "min_spend": 58.0,
            "total_cost": values["total_cost"],
            "benefit_value": values["total_cost"],
            "commitment_months": 12,
            "channels": " outbound_call sms store hotline ",
            "script_zh": "您好",
            "script_en": "Hello",
            "approval": "approved",
        }
        for pid, values in POLICIES.items()
    ]


def publish(engine: Engine, branches: dict[str, int]) -> list[dict[str, Any]]:
    """Insert the customers and policies; the customer rows."""
    rows = customer_rows(branches)
    with session_scope(engine) as session:
        session.add_all(CustomerView(**row) for row in rows)
        session.add_all(PublishedPolicy(**row) for row in policy_rows())
    return rows
