"""In chromium: the dashboard shows the same figures as the reports API (same session)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from browser.conftest import log_in, screenshot

pytestmark = pytest.mark.browser


def _column(page: Page, table_id: str, key: str) -> list[int]:
    """The integers of one column of a page table (hidden under "Show data" or not)."""
    cells = page.locator(f"#{table_id} tbody td[data-key='{key}']").all_text_contents()
    return [int("".join(ch for ch in text if ch.isdigit()) or -1) for text in cells]


def test_dashboard_figures_equal_the_api(new_page: Callable[..., Page]) -> None:
    page = new_page()
    log_in(page, "director")
    page.goto("/dashboards")
    expect(page.locator("#kpi-cards")).to_be_visible()
    api = page.request.get("/api/v1/reports/overview")
    assert api.ok, api.text()
    data = api.json()
    assert data["rates"] and data["churn_trend"], "the demo publishes figures and works a day"
    assert _column(page, "live-rates", "numerator") == [r["numerator"] for r in data["rates"]]
    assert _column(page, "live-rates", "denominator") == [r["denominator"] for r in data["rates"]]
    assert any(r["denominator"] > 0 for r in data["rates"])  # the demo agents' day counts
    trend = [(round(f["numerator"]), round(f["denominator"])) for f in data["churn_trend"]]
    shown = list(
        zip(
            _column(page, "churn-trend", "numerator"),
            _column(page, "churn-trend", "denominator"),
            strict=True,
        )
    )
    assert shown == trend
    agents = page.locator("#league-agents tbody tr[data-row], #league-agents tbody tr")
    assert len(data["agents"]) == 0 or agents.count() == len(data["agents"])
    page.wait_for_timeout(300)  # let ECharts draw before the screenshot
    screenshot(page, "dashboard")
    page.locator("#figure-chart-churn-trend summary").click()
    expect(page.locator("#churn-trend")).to_be_visible()
