"""In chromium: a centre head plans a campaign with the filter builder (live count), rehearses
and submits it; the director approves it from the approval queue."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from browser.conftest import DemoSite, log_in, screenshot

pytestmark = pytest.mark.browser


def _live_count(page: Page) -> int:
    text = page.locator("#live-count").inner_text()
    digits = "".join(ch for ch in text if ch.isdigit())
    return int(digits) if digits else -1


def test_head_plans_rehearses_submits_and_director_approves(
    demo_site: DemoSite, new_page: Callable[..., Page]
) -> None:
    head = new_page()
    log_in(head, "head")
    head.goto("/campaigns/new")
    everyone = head.locator("#live-count")
    expect(everyone).not_to_have_text("…")
    head.fill("#plan-name", "高危客户关怀外呼 浏览器测试")
    head.select_option("#filter-field-1", "risk_band")
    # the value picker offers the risk bands by name; the builder takes the name
    expect(head.locator("#filter-value-1")).to_have_attribute("list", "choices-risk_band")
    expect(head.locator("#choices-risk_band option[value='高']")).to_have_count(1)
    head.select_option("#filter-op-1", "in")
    head.fill("#filter-value-1", "高")
    head.locator("#filter-value-1").dispatch_event("change")
    # the count arrives when htmx's request answers (it may start after the page looks idle)
    expect(everyone).to_have_text(re.compile(r"\d"), timeout=30_000)
    high_risk = _live_count(head)
    assert high_risk > 0, head.locator("#live-count").inner_text()
    head.locator("input[name='channels']").first.check()
    head.locator("input[name='policy_ids']").first.check()
    start = date.today() + timedelta(days=1)
    head.fill("#plan-start", start.isoformat())
    head.fill("#plan-end", (start + timedelta(days=30)).isoformat())
    screenshot(head, "campaign-plan")
    head.click("#plan-save")
    head.wait_for_load_state("networkidle")
    expect(head.locator("#campaign-state")).to_have_attribute("data-state", "draft")
    campaign_url = head.url
    head.click("#action-rehearse")
    expect(head.locator("#campaign-state")).to_have_attribute("data-state", "rehearsed")
    expect(head.locator("#rehearsal-kpis")).to_be_visible()
    screenshot(head, "campaign-rehearsal")
    head.click("#action-submit")
    expect(head.locator("#campaign-state")).to_have_attribute("data-state", "submitted")

    director = new_page()
    log_in(director, "director")
    director.goto("/campaigns/approvals")
    campaign_id = campaign_url.rstrip("/").rsplit("/", 1)[-1]
    card = director.locator(f"#decide-{campaign_id}")
    expect(card).to_be_visible()
    director.fill(f"#comment-{campaign_id}", "同意")
    director.click(f"#approve-{campaign_id}")
    director.wait_for_load_state("networkidle")
    director.goto(campaign_url.replace(demo_site.url, ""))
    state = director.locator("#campaign-state")
    # one level (the director's) or more: approved, or waiting at the next level
    expect(state).to_have_attribute("data-state", "approved")
    screenshot(director, "campaign-approved")
