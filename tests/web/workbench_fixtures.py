"""Shared setup of the workbench and channel page tests: customers, policies, contact rules,
managers and tasks in several channels (built on tests/customer_fixtures.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, update

from customer_fixtures import publish_customers, publish_rules
from weiwan.core.db import session_scope
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.tasks.models import CustomerAssignment, Task
from weiwan.ops.tasks.service import TaskSpec, create_tasks

#: no caps, no quiet hours: every contact is allowed (a test publishes stricter rules itself)
OPEN_RULES: dict[str, Any] = {
    "channels": {
        "store": {"inbound": True},
        "hotline": {"inbound": True},
        "self_service": {"inbound": True},
    }
}
_TASK_ID_CELL = re.compile(r'data-key="task_id">([0-9,]+)</td>')


def task_ids_in(html: str) -> list[int]:
    """The task ids of the workbench table, in the page's order."""
    return [int(v.replace(",", "")) for v in _TASK_ID_CELL.findall(html)]


def quiet_rules_now(tz: ZoneInfo) -> tuple[dict[str, Any], datetime]:
    """Rules whose outbound-call quiet hours hold right now, and the time they end."""
    now = datetime.now(tz)
    start = (now - timedelta(hours=1)).strftime("%H:%M")
    end_at = (now + timedelta(hours=2)).replace(second=0, microsecond=0)
    rules = {
        "channels": {
            **OPEN_RULES["channels"],
            "outbound_call": {"quiet_hours": {"start": start, "end": end_at.strftime("%H:%M")}},
        }
    }
    return rules, end_at


@pytest.fixture(name="world")
def world_fixture(
    engine: Engine, branches: dict[str, int], people: dict[str, int]
) -> dict[str, Any]:
    """Ten city customers. ``agent`` manages S00001–S00003, ``agent2`` S00004. Tasks:

    - S00001: an outbound call for ``agent`` (keep168), and a store and a hotline task for
      keep168 waiting in the city queue (closed when the customer accepts elsewhere);
    - S00002 (ordinary) and S00003 (diamond): outbound calls for ``agent`` due at the same
      time (the diamond customer comes first), S00001's due later;
    - S00004: an outbound call for ``agent2``.
    """
    ids = publish_customers(engine, branches["city"], 10)
    publish_rules(engine, OPEN_RULES)
    soon = datetime.now(UTC) + timedelta(hours=30)
    later = soon + timedelta(days=2)
    with session_scope(engine) as session:
        session.execute(
            update(CustomerView)
            .where(CustomerView.subscriber_id == "S00003")
            .values(value_tier="diamond")
        )
        for sid in ids[:3]:
            session.add(
                CustomerAssignment(
                    subscriber_id=sid, kind="retention_manager", user_id=people["agent"]
                )
            )
        session.add(
            CustomerAssignment(
                subscriber_id="S00004", kind="retention_manager", user_id=people["agent2"]
            )
        )
        session.flush()

        def spec(sid: str, channel: str, origin: str, **extra: Any) -> TaskSpec:
            return TaskSpec(
                subscriber_id=sid,
                source="decision",
                origin=origin,
                channel=channel,
                policy_id="keep168",
                title_zh="高风险客户",
                title_en="high-risk customer",
                **extra,
            )

        create_tasks(
            session,
            [
                spec("S00001", "outbound_call", "t:1", assignee_id=people["agent"], due_at=later),
                spec("S00001", "store", "t:1", due_at=later),
                spec("S00001", "hotline", "t:1", due_at=later),
                spec(
                    "S00002",
                    "outbound_call",
                    "t:1",
                    assignee_id=people["agent"],
                    due_at=soon,
                    priority=12.5,
                ),
                spec(
                    "S00003",
                    "outbound_call",
                    "t:1",
                    assignee_id=people["agent"],
                    due_at=soon,
                    priority=480.0,  # the diamond customer: far more worth saving
                ),
                spec("S00004", "outbound_call", "t:1", assignee_id=people["agent2"], due_at=soon),
            ],
        )
    with session_scope(engine) as session:
        tasks = {
            (t.subscriber_id, t.channel): t.id
            for t in session.scalars(select(Task).order_by(Task.id))
        }
    return {"ids": ids, "tasks": tasks}
