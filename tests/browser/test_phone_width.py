"""In chromium at phone width (390 × 844): the agent's task list and the customer card are
usable with a thumb — every control a touch target of at least 44 × 44 px — and the card shows
who the customer is and why they may leave before the forms to fill."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

from browser.conftest import log_in, screenshot

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
#: what a thumb presses: buttons, inputs, selects, links in the page's tables and paging
CONTROLS = (
    "main .btn:visible, main .form-control:visible, main .form-select:visible, "
    "main .table a:visible, main .page-link:visible"
)
MIN_TARGET = 44


def _too_small(controls: Locator) -> list[str]:
    small = []
    for index in range(controls.count()):
        control = controls.nth(index)
        box = control.bounding_box()
        if box is None:
            continue
        if box["height"] < MIN_TARGET - 0.5 or box["width"] < MIN_TARGET - 0.5:
            name = control.get_attribute("id") or control.inner_text()[:20]
            small.append(f"{name!r} {box['width']:.0f}×{box['height']:.0f}")
    return small


def test_the_task_list_and_the_card_fit_a_thumb_and_put_the_customer_first(
    new_page: Callable[..., Page],
) -> None:
    page = new_page(**PHONE)
    log_in(page, "agent")
    page.goto("/workbench")
    expect(page.locator("main table").first).to_be_visible()
    assert page.locator(CONTROLS).count() > 5
    assert _too_small(page.locator(CONTROLS)) == []
    screenshot(page, "workbench-phone")

    page.locator("main .table a[href^='/customers/']").first.click()
    page.wait_for_load_state("networkidle")
    reasons = page.locator("#customer-reasons").bounding_box()
    first_form = page.locator("#customer-work form").first.bounding_box()
    assert reasons is not None and first_form is not None
    assert reasons["y"] < first_form["y"]  # profile and reasons, then the forms
    page.locator("#customer-work details.outcome-details").first.evaluate("d => d.open = true")
    assert page.locator(CONTROLS).count() > 5
    assert _too_small(page.locator(CONTROLS)) == []
    screenshot(page, "customer-card-phone")
