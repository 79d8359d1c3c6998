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
