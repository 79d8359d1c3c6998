"""In chromium: an agent's open work list shows the task of a port-out code request within 2 s
of the event's post, without a reload."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import exists, select

from browser.conftest import DemoSite, log_in, screenshot
from weiwan.core.db import engine_for, session_scope
from weiwan.core.event_rules import event_rules_of
from weiwan.core.yaml_safe import load_yaml
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.events.tokens import create_token
from weiwan.ops.org.config import read_document, yaml_name
from weiwan.ops.org.models import User
from weiwan.ops.tasks.models import CustomerAssignment, Task

pytestmark = pytest.mark.browser


def _customer_and_token(site: DemoSite) -> tuple[str, str]:
    """An ordinary customer without open tasks, outside the port-out rule's hold-out, given the
    demo agent as retention manager; and a source's token."""
    engine = engine_for(site.settings)
    try:
        with session_scope(engine) as session:
            document = read_document(session, yaml_name("alerts")) or {}
            rules = {r.id: r for r in event_rules_of(load_yaml(str(document["text"])))[0]}
            rule = rules["port_out_code_request"]
            agent = session.scalars(select(User).where(User.username == "agent")).one()
            candidates = session.scalars(
                select(CustomerView.subscriber_id)
                .where(
                    CustomerView.value_tier.not_in(["diamond", "gold"]),
                    ~exists().where(
                        Task.subscriber_id == CustomerView.subscriber_id, Task.status == "open"
                    ),
                    ~exists().where(CustomerAssignment.subscriber_id == CustomerView.subscriber_id),
                )
                .order_by(CustomerView.subscriber_id)
            )
            subscriber = next(s for s in candidates if not rule.holds_out(s))
            session.add(
                CustomerAssignment(
                    subscriber_id=subscriber, kind="retention_manager", user_id=agent.id
                )
            )
            token = create_token(session, f"browser-{int(time.time())}")
    finally:
        engine.dispose()
    return subscriber, token


def test_a_port_out_request_reaches_the_open_work_list_within_two_seconds(
    demo_site: DemoSite, new_page: Callable[..., Page]
) -> None:
    subscriber, token = _customer_and_token(demo_site)
    page = new_page()
    log_in(page, "agent")
    page.goto("/workbench")
    expect(page.locator("#task-counts")).to_be_visible()
    page.wait_for_timeout(1200)  # the list has polled at least once: nothing new yet
    expect(page.locator("#arrivals-badge")).to_have_count(0)
    event = {
        "event_id": f"browser-{subscriber}-{time.time_ns()}",
        "subscriber_id": subscriber,
        "type": "port_out_code_request",
        "time": datetime.now(UTC).isoformat(),
        "attributes": {"channel": "sms"},
    }
    answer = httpx.post(
        f"{demo_site.url}/api/v1/events",
        json={"events": [event]},
        headers={"Authorization": f"Bearer {token}"},
    )
    posted = time.monotonic()
    assert answer.status_code == 202 and answer.json()["accepted"] == 1, answer.text
    badge = page.locator("#arrivals-badge")
    expect(badge).to_be_visible(timeout=2000)
    waited = time.monotonic() - posted
    assert waited <= 2.0
    expect(page.locator("#arrivals-newest")).to_contain_text("携号转网授权码申请")
    screenshot(page, "workbench-live-alert")
    page.click("#arrivals-open")
    page.wait_for_url(f"**/customers/{subscriber}?task=*")
