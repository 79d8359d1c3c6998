"""In chromium, in Chinese and in English: each demo role's main journey through the pages it
works in, a screenshot at every step (artifacts/screenshots/journey-<role>-<language>-<n>.png).

At every step the page must open without an error page, in the chosen language; in Chinese the
text a person sees must hold no raw code and no English word (the same check as
``test_chinese_pages``, on what chromium renders).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from browser.conftest import DemoSite, log_in, screenshot
from browser.test_chinese_pages import foreign_words
from weiwan.core.db import engine_for, session_scope
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.org.models import User

pytestmark = pytest.mark.browser

LANGUAGES = ("zh-CN", "en")


@dataclass(frozen=True)
class Step:
    """Open ``path`` (or follow the first link matching ``follow`` on the page before), then
    see ``shown``; ``fill``: a search box filled with the demo customer's phone and sent."""

    path: str | None
    shown: str
    follow: str | None = None
    fill: str | None = None


JOURNEYS: dict[str, tuple[Step, ...]] = {
    "agent": (
        Step("/workbench", "main table"),
        Step(None, "#customer-reasons", follow="a[href^='/customers/']"),
    ),
    "hotline": (Step("/screen-pop", "#customer-reasons", fill="#phone"),),
    "clerk": (Step("/self-service", "#self-service-search", fill="#q"),),
    "lead": (Step("/team", "main table"), Step("/quality", "h1")),
    "head": (Step("/campaigns", "h1"), Step("/dashboards", "h1"), Step("/anomalies", "h1")),
    "director": (
        Step("/dashboards", "h1"),
        Step("/reports", "h1"),
        Step("/reports/churn", "h1"),
    ),
    "analyst": (
        Step("/dashboards/models", "#chart-feature-drift"),
        Step("/dashboards/churn", "h1"),
        Step("/campaigns/new", "#plan-form"),
    ),
    "admin": (Step("/admin/users", "main table"), Step("/settings/policies", "h1")),
}


#: the page's text without what is not prose in the page's language: scripts, styles, the
#: document being edited (a textarea), configuration keys (code) and other-language elements
_SEEN_TEXT = """() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll(
    'script, style, noscript, svg, textarea, code, [lang]:not([lang^="zh"])'
  ).forEach((element) => element.remove());
  return copy.textContent;
}"""


def _a_phone_in_the_demo_city(site: DemoSite) -> str:
    """A customer's phone number in the store clerk's branch (a district of the hotline's
    city): both front desks may look the customer up."""
    engine = engine_for(site.settings)
    try:
        with session_scope(engine) as session:
            branch_id = session.scalar(select(User.branch_id).where(User.username == "clerk"))
            phone = session.scalar(
                select(CustomerView.msisdn)
                .where(CustomerView.branch_id == branch_id, CustomerView.msisdn.is_not(None))
                .order_by(CustomerView.subscriber_id)
                .limit(1)
            )
            assert phone, "the demo published no customer with a phone in the clerk's branch"
            return str(phone)
    finally:
        engine.dispose()


def _take(page: Page, step: Step, phone: str) -> None:
    if step.path:
        page.goto(step.path)
    if step.follow:
        link = page.locator(step.follow).first
        expect(link).to_be_visible()
        link.click()
    if step.fill:
        page.fill(step.fill, phone)
        page.press(step.fill, "Enter")
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_roles_journey_in_both_languages(
    demo_site: DemoSite, new_page: Callable[..., Page], language: str
) -> None:
    phone = _a_phone_in_the_demo_city(demo_site)
    usernames = {login.username for login in demo_site.run.logins}
    assert set(JOURNEYS) <= usernames, usernames
    names = frozenset(usernames)
    problems: list[str] = []
    for username, steps in JOURNEYS.items():
        page = new_page()
        log_in(page, username)
        origin = "/".join(page.url.split("/")[:3])
        page.context.add_cookies([{"name": "weiwan_lang", "value": language, "url": origin}])
        for number, step in enumerate(steps, start=1):
            _take(page, step, phone)
            where = f"{username} step {number} ({page.url})"
            expect(page.locator("#error"), where).to_have_count(0)
            assert page.locator("html").get_attribute("lang") == language, where
            expect(page.locator(step.shown).first, where).to_be_visible()
            screenshot(page, f"journey-{username}-{language}-{number}")
            if language == "zh-CN":
                words = sorted(set(foreign_words(page.evaluate(_SEEN_TEXT), names=names)))
                if words:
                    problems.append(f"{where}: {words}")
        page.context.close()
    assert not problems, "\n".join(problems)
