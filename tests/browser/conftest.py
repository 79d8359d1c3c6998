"""A real browser on a real demo site: the demo pipeline on a small simulated operator, the web
app served by uvicorn on 127.0.0.1, and Debian's chromium driven by Playwright."""

from __future__ import annotations

import io
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright
from rich.console import Console

from weiwan.core.db import engine_for
from weiwan.core.settings import Settings
from weiwan.demo.people import DEMO_PASSWORD
from weiwan.demo.seed import DemoRun, run_demo
from weiwan.web.app import create_app

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@dataclass(frozen=True)
class DemoSite:
    """The served demo: its address, settings and what the demo created."""

    url: str
    settings: Settings
    run: DemoRun


@contextmanager
def _no_progress() -> Iterator[Callable[[str, int, int], None]]:
    yield lambda _label, _done, _total: None


def midday_zone(now: datetime | None = None) -> str:
    """A fixed-offset zone where it is about noon now: the tests record contacts "now", which
    the contact policy's quiet hours would refuse at night in the centre's real zone."""
    hour = (now or datetime.now(UTC)).hour
    offset = 12 - hour if 12 - hour <= 14 else 12 - hour - 24
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"  # Etc/ signs are inverted


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    """The demo built on 3,000 simulated subscribers and served on a free port."""
    home = tmp_path_factory.mktemp("demo-home")
    settings = Settings(home=home, secret_key="browser-tests", timezone=midday_zone())
    run = run_demo(
        settings,
        subscribers=3000,
        months=4,
        seed=5,
        end_month="2026-10",
        console=Console(file=io.StringIO()),
        progress=_no_progress,
    )
    engine = engine_for(settings)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, engine), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the demo server did not start")
        time.sleep(0.05)
    try:
        yield DemoSite(f"http://127.0.0.1:{port}", settings, run)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian chromium (``make test`` installs it when missing; no browser download)."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail("chromium is missing: run `make browser` (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def new_page(browser: Browser, demo_site: DemoSite) -> Iterator[Callable[..., Page]]:
    """Open pages in fresh contexts (one per user), closed after the test."""
    contexts = []

    def open_page(width: int = 1280, height: int = 860) -> Page:
        context = browser.new_context(
            base_url=demo_site.url, viewport={"width": width, "height": height}
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def log_in(page: Page, username: str, password: str = DEMO_PASSWORD) -> None:
    """Log in through the login form and wait for the landing page."""
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_load_state("networkidle")


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under artifacts/screenshots (kept by CI as an artifact)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
