"""Hardening: headers on every response, no inline code in the templates, the login form's
CSRF token, Secure cookies over HTTPS, the API docs behind login, private database files."""

from __future__ import annotations

import re
import stat
from importlib import resources
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api_helpers import PASSWORD, login
from web.page_helpers import page_login, post_login
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.db import engine_for
from weiwan.core.settings import Settings
from weiwan.web.app import create_app
from weiwan.web.middleware import CONTENT_SECURITY_POLICY

TEMPLATES = Path(str(resources.files("weiwan.web").joinpath("templates")))


def _hardened(response: object, *, static: bool = False) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    if static:
        assert headers.get("cache-control") != "no-store"
    else:
        assert headers["cache-control"] == "no-store"


@pytest.mark.usefixtures("people")
def test_every_kind_of_response_carries_the_headers(app: FastAPI) -> None:
    anonymous = TestClient(app, follow_redirects=False)
    _hardened(anonymous.get("/login"))
    _hardened(anonymous.get("/account"))  # the redirect to the login page
    _hardened(anonymous.get("/api/v1/auth/me"))  # 401
    agent = page_login(app, "agent")
    _hardened(agent.get("/account"))
    _hardened(agent.get("/no-such-page"))
    _hardened(login(app, "agent").get("/api/v1/customers"))
    _hardened(anonymous.get("/static/app.js"), static=True)


def test_templates_carry_no_inline_script_style_or_handler() -> None:
    """What the policy forbids must not be in the templates (it would silently not run)."""
    inline_script = re.compile(r"<script(?![^>]*\b(src|type=\"application/json\"))[^>]*>")
    handler = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
    found = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        text = template.read_text("utf-8")
        for what, pattern in (
            ("inline script", inline_script),
            ("event handler", handler),
            ("style attribute", re.compile(r"\sstyle\s*=")),
            ("style element", re.compile(r"<style")),
            ("htmx hx-on", re.compile(r"hx-on")),
        ):
            found += [f"{template.name}: {what}" for _ in pattern.finditer(text)]
    assert not found, found


@pytest.mark.usefixtures("people")
def test_login_form_without_its_csrf_token_is_refused_in_both_languages(app: FastAPI) -> None:
    for language, words in (("zh-CN", "登录页面已过期"), ("en", "The login form has expired")):
        client = TestClient(app, follow_redirects=False)
        client.cookies.set("weiwan_lang", language)
        missing = client.post("/login", data={"username": "agent", "password": PASSWORD})
        assert missing.status_code == 403 and words in missing.text
        forged = client.post(
            "/login", data={"username": "agent", "password": PASSWORD, "csrf_token": "x"}
        )
        assert forged.status_code == 403
    other_browser = TestClient(app, follow_redirects=False)
    page = TestClient(app).get("/login").text  # a token from another cookie is no token
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    stolen = other_browser.post(
        "/login",
        data={"username": "agent", "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert stolen.status_code == 403
    assert post_login(TestClient(app, follow_redirects=False), "agent").status_code == 303


@pytest.mark.usefixtures("people")
def test_cookies_are_secure_over_https(app: FastAPI) -> None:
    https = TestClient(app, base_url="https://testserver", follow_redirects=False)
    response = https.post("/api/v1/auth/login", json={"username": "agent", "password": PASSWORD})
    assert response.status_code == 200
    assert "secure" in response.headers["set-cookie"].lower()
    http = TestClient(app, follow_redirects=False)
    response = http.post("/api/v1/auth/login", json={"username": "agent", "password": PASSWORD})
    assert "secure" not in response.headers["set-cookie"].lower()


@pytest.mark.usefixtures("people")
def test_api_docs_need_a_login_unless_a_setting_opens_them(
    app: FastAPI, engine: Engine, tmp_path: Path
) -> None:
    anonymous = TestClient(app)
    assert anonymous.get("/api/v1/openapi.json").status_code == 401
    assert anonymous.get("/api/v1/docs").status_code == 401
    agent = login(app, "agent")
    assert "/api/v1/customers" in agent.get("/api/v1/openapi.json").json()["paths"]
    docs = agent.get("/api/v1/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    policy = docs.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "https:" not in policy
    # Swagger UI is served from the vendored copy: no CDN, no inline script
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert assets and all(a.startswith("/static/") for a in assets), assets
    assert all(agent.get(a).status_code == 200 for a in assets)
    assert "<script>" not in docs.text
    public = create_app(Settings(home=tmp_path, secret_key="t", api_docs_public=True), engine)
    assert TestClient(public).get("/api/v1/openapi.json").status_code == 200


def test_database_warehouse_and_home_are_private(tmp_path: Path) -> None:
    home = tmp_path / "var" / "state"
    settings = Settings(home=home)
    engine = engine_for(settings)
    try:
        with engine.connect():
            pass
    finally:
        engine.dispose()
    with Warehouse(home / "wh" / "warehouse.duckdb"):
        pass

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(home / "weiwan.db") == 0o600
    assert mode(home / "wh" / "warehouse.duckdb") == 0o600
    assert mode(home) == mode(tmp_path / "var") == mode(home / "wh") == 0o700
