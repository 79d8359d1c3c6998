"""Shared setup of the data-quality tests: customers in three branches and their managers."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from customer_fixtures import customer, publish_customers, publish_rules
from weiwan.core.db import session_scope
from weiwan.ops.tasks.models import CustomerAssignment

#: no caps, no quiet hours: every contact is allowed
OPEN_RULES: dict[str, Any] = {"channels": {"store": {"inbound": True}}}
#: who manages which customer: S00001–S00003 and the rural S00021 ``agent``, S00004–S00005
#: ``agent2`` (same team), the other branch's S00031 ``outsider``
MANAGERS = {
    "S00001": "agent",
    "S00002": "agent",
    "S00003": "agent",
    "S00021": "agent",
    "S00004": "agent2",
    "S00005": "agent2",
    "S00031": "outsider",
}
URL = "/api/v1/data-quality"


def dq_world(engine: Engine, branches: dict[str, int], people: dict[str, int]) -> None:
    """Six city customers, one of the rural sub-branch, one of the other branch."""
    publish_customers(engine, branches["city"], 6)
    publish_rules(engine, OPEN_RULES)
    with session_scope(engine) as session:
        session.add(customer("S00021", branches["rural_a"], branch_code="HZ-CA"))
        session.add(customer("S00031", branches["other"], region="NB", branch_code="NB"))
        session.flush()
        session.add_all(
            CustomerAssignment(subscriber_id=sid, kind="retention_manager", user_id=people[who])
            for sid, who in MANAGERS.items()
        )


def file(client: TestClient, sid: str, field: str, value: str, **extra: Any) -> Any:
    """``POST /api/v1/data-quality/reports``; the response."""
    body = {"subscriber_id": sid, "field": field, "reported_value": value, **extra}
    return client.post(f"{URL}/reports", json=body)
