"""In chromium: the retention-management pages (anomaly pool, scorecards, weekly plans, daily
checks, data-quality reports) open for the roles that use them, in both languages, with what
the demo's managers' day put there; screenshots saved."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from browser.conftest import log_in, screenshot

pytestmark = pytest.mark.browser

#: (user, page, heading id, a selector the demo's day fills)
PAGES = (
    ("head", "/anomalies", "#anomalies-title", "#anomaly-counts"),
    ("lead", "/appraisal/scorecards", "#scorecards-title", "#scorecards-state"),
    ("agent", "/appraisal/weekly-plans", "#plans-title", "#own-plan"),
    ("lead", "/appraisal/daily-checks", "#checks-title", "#check-form"),
    ("analyst", "/data-quality", "h1", "table"),
)


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_management_pages_render_in_both_languages(
    new_page: Callable[..., Page], language: str
) -> None:
    for username, path, heading, filled in PAGES:
        page = new_page()
        log_in(page, username)
        origin = "/".join(page.url.split("/")[:3])
        page.context.add_cookies([{"name": "weiwan_lang", "value": language, "url": origin}])
        page.goto(path)
        expect(page.locator("#error")).to_have_count(0)
        assert page.locator("html").get_attribute("lang") == language
        expect(page.locator(heading).first).to_be_visible()
        expect(page.locator(filled).first).to_be_visible()
        screenshot(page, f"{path.strip('/').replace('/', '-')}-{username}-{language}")
        page.context.close()


def test_the_agent_sees_the_pool_entries_handed_to_them(new_page: Callable[..., Page]) -> None:
    page = new_page()
    log_in(page, "agent")
    page.goto("/anomalies?status=assigned")
    expect(page.locator("#error")).to_have_count(0)
    total = int(page.locator("#anomaly-total").get_attribute("data-value") or "0")
    assert total > 0  # the centre head handed entries of the branch to every demo agent
    page.goto("/workbench")
    expect(page.locator("#error")).to_have_count(0)


def test_a_refused_action_says_why_where_the_user_is_looking(
    new_page: Callable[..., Page],
) -> None:
    """The shift lead presses 重新分配 without ticking a task: the reason appears on the page,
    in Chinese, in view (it was swallowed before: htmx did not swap a refusal), and the choices
    made in the form are still there."""
    page = new_page(height=700)
    log_in(page, "lead")
    page.goto("/team")
    page.locator("a[href*='#reassign']").first.click()
    page.wait_for_load_state("networkidle")
    form = page.locator("#reassign-form")
    expect(form).to_be_visible()
    page.select_option("#reassign-to", index=1)
    page.fill("#reassign-reason", "请假")
    page.click("#reassign-submit")
    message = page.locator("#messages #error")
    expect(message).to_be_visible()
    expect(message).to_contain_text("请至少选择一个任务")
    expect(message).not_to_contain_text("task_id")
    assert message.bounding_box() is not None
    box = message.bounding_box() or {"y": -1.0}
    assert 0 <= box["y"] < 700  # within the viewport, however far down the button was
    expect(page.locator("#reassign-reason")).to_have_value("请假")
    screenshot(page, "team-reassign-refused-zh")
