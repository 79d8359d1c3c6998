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


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _rgb(css: str) -> tuple[float, float, float, float]:
    parts = [float(p) for p in css[css.index("(") + 1 : css.index(")")].split(",")]
    return (parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else 1.0)


def test_the_menu_is_readable_contrast_at_least_4_5(new_page: Callable[..., Page]) -> None:
    """Every menu entry's text against the bar: WCAG AA, 4.5:1 or more."""
    page = new_page()
    log_in(page, "director")
    bar = _rgb(page.eval_on_selector("nav.navbar", "e => getComputedStyle(e).backgroundColor"))
    assert bar[3] == 1.0  # an opaque bar
    colours = page.eval_on_selector_all(
        "nav.navbar .nav-link, nav.navbar .navbar-brand",
        "els => els.filter(e => e.offsetParent).map(e => getComputedStyle(e).color)",
    )
    assert colours
    for css in colours:
        r, g, b, alpha = _rgb(css)
        mix = [alpha * c + (1 - alpha) * bg for c, bg in zip((r, g, b), bar[:3], strict=True)]
        shown = (mix[0], mix[1], mix[2])  # the text over the bar
        light, dark = sorted((_luminance(shown), _luminance(bar[:3])), reverse=True)
        assert (light + 0.05) / (dark + 0.05) >= 4.5, css
