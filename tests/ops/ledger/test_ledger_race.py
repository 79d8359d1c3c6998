"""Concurrency on PostgreSQL: events for different customers posted at the same moment by two
sources, while the day's decisions are handed over, never grant past a policy's budget nor
contact past the real-time share of a channel's capacity (each decision reads the total and
adds to it under the policy's or channel's lock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from customer_fixtures import customer, decision, publish_rules
from event_fixtures import EVENT_TOKEN, event, seed_event_token
from ledger_fixtures import library_policy, publish_library
from ops.race import race
from weiwan.core.db import session_scope
from weiwan.ops.customers.models import PublishedDecision
from weiwan.ops.handover.service import hand_over
from weiwan.ops.ledger.models import OnlineGrant
from weiwan.ops.ledger.service import record_batch_usage
from weiwan.ops.tasks.models import Task

from ..events.test_processing import PORT_OUT, publish_alert_rules
from .test_online_offers import TZ

pytestmark = pytest.mark.parametrize("empty_engine", ["postgresql"], indirect=True)
OTHER_TOKEN = "wwe_second-source-token-0123456789abcdefghijklmn"
#: 40 customers outside the port-out rule's hold-out, split between the two sources
CUSTOMERS = [f"S{n:05d}" for n in range(1, 200) if not PORT_OUT.holds_out(f"S{n:05d}")][:40]
BUDGET = 9  # disc grants a year: the published day planned 3, the events may take 6
EVENT_CALLS = 10  # outbound calls a day for events: 20 % of 50


def test_racing_events_and_the_hand_over_stay_within_the_budget_and_the_capacity(
    app: FastAPI, engine: Engine, branches: dict[str, int]
) -> None:
    publish_alert_rules(engine)
    seed_event_token(engine)
    seed_event_token(engine, name="crm-b", token=OTHER_TOKEN)
    publish_library(
        engine,
        [library_policy("disc", "discount", 30.0, budget={"count": BUDGET, "per_months": 12})],
    )
    publish_rules(
        engine,
        {"channels": {"outbound_call": {"capacity": {"per_day": 50}, "reserve_for_events": 0.2}}},
    )
    now = datetime.now(UTC)
    snapshot = now.astimezone(TZ).date() - timedelta(days=1)
    with session_scope(engine) as session:
        for sid in CUSTOMERS:
            session.add(customer(sid, branches["city"], eligible_policies=" disc "))
        for n in range(3):
            sid = f"S0900{n}"
            session.add(customer(sid, branches["city"]))
            session.add(
                decision(sid, "outbound_call", policy_id="disc", snapshot_date=snapshot, cost=33.0)
            )
        session.flush()
        record_batch_usage(session, snapshot)

    def post(token: str, customers: list[str]) -> int:
        batch = [event(f"{token[-6:]}-{sid}", sid) for sid in customers]
        answer = TestClient(app).post(
            "/api/v1/events", json={"events": batch}, headers={"Authorization": f"Bearer {token}"}
        )
        return int(answer.status_code)

    results = race(
        [
            partial(post, EVENT_TOKEN, CUSTOMERS[:20]),
            partial(post, OTHER_TOKEN, CUSTOMERS[20:]),
            partial(hand_over, engine, snapshot, now=now),
        ]
    )
    assert results[:2] == [202, 202], results
    assert isinstance(results[2], dict), results[2]
    with session_scope(engine) as session:
        online = session.scalar(select(func.count()).select_from(OnlineGrant))
        daily = session.scalar(
            select(func.count()).where(
                PublishedDecision.snapshot_date == snapshot, PublishedDecision.action.is_(True)
            )
        )
        event_tasks = session.scalar(
            select(func.count()).where(Task.origin.like("event:%"), Task.channel == "outbound_call")
        )
        offered = session.scalar(
            select(func.count()).where(Task.origin.like("event:%"), Task.policy_id == "disc")
        )
    # every event wanted a call and an offer: the capacity's share and the budget are used in
    # full, and never more
    assert event_tasks == EVENT_CALLS
    assert (online or 0) + (daily or 0) == BUDGET
    assert offered == online
