"""In chromium: an agent works a task to acceptance on the customer card; the same offer's
store task closes with it, and the hotline's screen-pop for that phone then shows it closed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import exists, or_, select

from browser.conftest import DemoSite, log_in, screenshot
from weiwan.core.db import engine_for, session_scope
from weiwan.ops.contacts.models import Contact
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.org.models import Branch, User
from weiwan.ops.tasks.models import Task
from weiwan.ops.tasks.service import TaskSpec, create_tasks

pytestmark = pytest.mark.browser


def _agents_task_with_an_offer(site: DemoSite) -> tuple[Task, str, str]:
    """An outbound task of the demo agent for a customer of the agent's city (branch and
    sub-branches) who may get an offer and whom nobody has called yet (the demo's agents worked
    their own tasks, some to the day's contact cap), and a store task for the same customer and
    offer (as a campaign would create); (task, policy, phone)."""
    engine = engine_for(site.settings)
    try:
        with session_scope(engine) as session:
            agent = session.scalars(select(User).where(User.username == "agent")).one()
            subscriber_id, eligible, phone = next(
                (sid, e, p)
                for sid, e, p in session.execute(
                    select(
                        CustomerView.subscriber_id,
                        CustomerView.eligible_policies,
                        CustomerView.msisdn,
                    )
                    .where(
                        CustomerView.branch_id.in_(
                            select(Branch.id).where(
                                or_(
                                    Branch.id == agent.branch_id,
                                    Branch.parent_id == agent.branch_id,
                                )
                            )
                        ),
                        CustomerView.eligible_policies.is_not(None),
                        ~exists().where(Contact.subscriber_id == CustomerView.subscriber_id),
                        ~exists().where(
                            Task.subscriber_id == CustomerView.subscriber_id,
                            Task.status == "open",
                        ),
                    )
                    .order_by(CustomerView.subscriber_id)
                )
                if (e or "").split()
            )
            policy = (eligible or "").split()[0]
            specs = [
                TaskSpec(
                    subscriber_id=subscriber_id,
                    source="manual",
                    origin="browser-test",
                    channel=channel,
                    policy_id=policy,
                    title_zh=title_zh,
                    title_en=title_en,
                    assignee_id=agent.id if channel == "outbound_call" else None,
                )
                for channel, title_zh, title_en in (
                    ("outbound_call", "挽留外呼", "Retention call"),
                    ("store", "到厅办理", "Store visit"),
                )
            ]
            assert create_tasks(session, specs) == 2
            task = session.scalars(
                select(Task).where(
                    Task.subscriber_id == subscriber_id, Task.channel == "outbound_call"
                )
            ).one()
            session.expunge(task)
            return task, policy, phone
    finally:
        engine.dispose()


def test_agent_accepts_and_the_screen_pop_shows_it_closed(
    demo_site: DemoSite, new_page: Callable[..., Page]
) -> None:
    task, policy, phone = _agents_task_with_an_offer(demo_site)
    agent = new_page()
    log_in(agent, "agent")
    expect(agent.locator("#task-counts")).to_be_visible()
    screenshot(agent, "workbench")
    agent.goto(f"/customers/{task.subscriber_id}?task={task.id}")
    expect(agent.locator(f"#task-{task.id}")).to_be_visible()
    open_before = int(agent.locator("#open-task-count").inner_text())
    assert open_before >= 2  # the worked task and the store task for the same offer
    screenshot(agent, "customer-card")
    # three clicks: connected, accepted (offer chosen), save
    agent.click(f"label[for='o-{task.id}-connected']")
    agent.click(f"label[for='o-{task.id}-accepted']")
    agent.select_option(f"#policy-{task.id}", policy)
    agent.click(f"#save-outcome-{task.id}")
    expect(agent.locator("#form-message")).to_be_visible()
    expect(agent.locator(f"#open-tasks #task-{task.id}")).to_have_count(0)
    expect(agent.locator("#acceptances li")).to_have_count(1)

    hotline = new_page()
    log_in(hotline, "hotline")
    hotline.fill("#phone", phone)
    hotline.click("#screen-pop-go")
    hotline.wait_for_load_state("networkidle")
    expect(hotline.locator("#closed-tasks")).to_be_visible()
    expect(hotline.locator("#open-tasks [data-task]")).to_have_count(open_before - 2)
    screenshot(hotline, "screen-pop")
