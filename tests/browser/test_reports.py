"""In chromium: the weekly/monthly report and the churn analysis report render with their
charts in both languages, show the API's figures, and print without the menu."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from browser.conftest import log_in, screenshot

pytestmark = pytest.mark.browser


def _number(text: str) -> int:
    return int("".join(ch for ch in text if ch.isdigit()) or -1)


def test_report_pages_in_both_languages(new_page: Callable[..., Page]) -> None:
    page = new_page()
    log_in(page, "director")
    listed = page.request.get("/api/v1/reports/periods")
    assert listed.ok, listed.text()
    items = listed.json()["items"]
    months = [e for e in items if e["kind"] == "month"]
    assert months and any(e["kind"] == "week" for e in items), "the demo publishes reports"
    page.goto("/reports?report=month:" + months[0]["key"])
    expect(page.locator("#report-title")).to_contain_text("月报")
    expect(page.locator("#report-cards")).to_be_visible()
    expect(page.locator("[data-chart] svg").first).to_be_visible()  # ECharts drew
    doc = page.request.get(f"/api/v1/reports/periods/month/{months[0]['key']}").json()
    churned = page.locator("#summary tbody td[data-key='churned']").first.text_content() or ""
    assert _number(churned) == round(doc["document"]["total"]["churned"])
    page.wait_for_timeout(300)  # let ECharts finish before the screenshot
    screenshot(page, "reports-month-zh")
    # on paper: no menu, no buttons
    page.emulate_media(media="print")
    expect(page.locator("nav.navbar")).to_be_hidden()
    expect(page.locator("#print-report")).to_be_hidden()
    page.emulate_media(media="screen")

    page.click("a[data-lang='en']")
    page.wait_for_load_state("networkidle")
    page.goto("/reports/churn")
    expect(page.locator("#report-title")).to_contain_text("Churn analysis report")
    expect(page.locator("#reason-groups")).to_contain_text("fix it quickly")
    churn = page.request.get(f"/api/v1/reports/churn-analysis/{months[0]['key']}").json()
    leavers = page.locator("#report-cards [data-metric='leavers'] .fs-4").text_content() or ""
    assert _number(leavers) == round(churn["document"]["leavers"])
    expect(page.locator("[data-chart] svg").first).to_be_visible()
    page.wait_for_timeout(300)
    screenshot(page, "reports-churn-en")
