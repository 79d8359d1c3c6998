"""In chromium, in Chinese: an analyst builds a saved target group with the builder's value
picker (风险等级 = 高), sees the live count, saves it for the next run."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from browser.conftest import log_in, screenshot

pytestmark = pytest.mark.browser


def test_an_analyst_builds_a_target_group_by_names(new_page: Callable[..., Page]) -> None:
    page = new_page()
    log_in(page, "analyst")
    page.goto("/settings/target-groups")
    page.click("#new-group")
    page.fill("#g-id", "browser_high_risk")
    page.fill("#g-name_zh", "浏览器测试高风险客户")
    page.fill("#g-name_en", "Browser test high risk")
    page.select_option("#filter-field-1", "risk_band")
    expect(page.locator("#filter-value-1")).to_have_attribute("list", "choices-risk_band")
    page.select_option("#filter-op-1", "=")
    page.fill("#filter-value-1", "高")
    page.locator("#filter-value-1").dispatch_event("change")
    expect(page.locator("#live-count")).to_have_text(re.compile(r"\d"), timeout=30_000)
    screenshot(page, "target-group-editor")
    page.click("#group-save")
    page.wait_for_load_state("networkidle")
    assert "/settings/target-groups?saved=1" in page.url
    expect(page.locator("#pending-target_groups")).to_be_visible()
