"""In chromium: every demo role logs in and lands on its first page; zh/en switch."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from browser.conftest import DemoSite, log_in, screenshot
from weiwan.web.nav import home_for

pytestmark = pytest.mark.browser


def test_every_role_logs_in_and_lands_on_its_page(
    demo_site: DemoSite, new_page: Callable[..., Page]
) -> None:
    assert len(demo_site.run.logins) >= 8
    for login in demo_site.run.logins:
        page = new_page()
        log_in(page, login.username)
        assert page.url.endswith(home_for(login.role)) or "/account" in page.url, login
        expect(page.locator("#user-menu")).to_have_text(login.display_name)
        expect(page.locator("#error")).to_have_count(0)  # the landing page exists and opens
        page.context.close()


def test_wrong_password_shows_the_message(new_page: Callable[..., Page]) -> None:
    page = new_page()
    log_in(page, "agent", "not-the-password")
    expect(page.locator("#login-error")).to_be_visible()
    assert "/login" in page.url


def test_language_switch_and_back(new_page: Callable[..., Page]) -> None:
    page = new_page()
    log_in(page, "director")
    page.goto("/account")
    expect(page.locator("#role")).to_have_text("总监")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.click("a[data-lang='en']")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#role")).to_have_text("Director")
    assert page.locator("html").get_attribute("lang") == "en"
    screenshot(page, "account-en")
    page.click("a[data-lang='zh-CN']")
    expect(page.locator("#role")).to_have_text("总监")


def test_logged_out_pages_send_you_to_login(new_page: Callable[..., Page]) -> None:
    page = new_page()
    page.goto("/account")
    assert "/login?next=" in page.url
    log_in(page, "analyst")
    page.goto("/account")
    page.locator("#user-menu").click()
    page.click("#logout")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/login")
