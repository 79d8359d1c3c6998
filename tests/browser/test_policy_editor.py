"""In chromium, in Chinese: an administrator adds a retention policy through the form; a
negative cost is refused under the cost field with the typed values kept, the fixed policy is
saved into the library's pending edit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from browser.conftest import log_in, screenshot

pytestmark = pytest.mark.browser


def test_an_administrator_adds_a_policy_and_fixes_what_the_rules_refuse(
    new_page: Callable[..., Page],
) -> None:
    page = new_page()
    log_in(page, "admin")
    page.goto("/settings/policies")
    page.click("#new-policy")
    page.fill("#p-id", "browser_care_20")
    page.fill("#p-name_zh", "浏览器测试关怀20元")
    page.fill("#p-name_en", "Browser test care 20")
    page.select_option("#p-offer_type", "discount")
    page.select_option("#p-target_group", index=1)
    page.fill("#p-valid_to", (date.today() + timedelta(days=180)).isoformat())  # from today
    page.fill("#p-min_spend", "38")
    page.fill("#p-cost_amount", "-20")
    page.check("#p-ch-sms")
    page.click("#policy-save")
    page.wait_for_load_state("networkidle")
    problem = page.locator("[data-problem='cost_amount']")
    expect(problem).to_have_text("不能小于 0。")
    expect(page.locator("#p-name_zh")).to_have_value("浏览器测试关怀20元")  # nothing retyped
    screenshot(page, "policy-editor-refused")
    page.fill("#p-cost_amount", "20")
    page.click("#policy-save")
    page.wait_for_load_state("networkidle")
    assert page.url.split("#")[0].endswith("/settings/policies?saved=policies")
    expect(page.locator("#pending-policies")).to_be_visible()
    screenshot(page, "policy-editor-saved")
