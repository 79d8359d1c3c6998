"""Helpers of the page tests: a browser-like client logged in through the login form."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api_helpers import PASSWORD

_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def page_login(app: FastAPI, username: str, language: str | None = None) -> TestClient:
    """A client logged in through ``POST /login`` (as a browser would), with the page's CSRF
    token in its headers (as htmx sends it) and the language cookie when given."""
    client = TestClient(app, follow_redirects=False)
    if language:
        client.cookies.set("weiwan_lang", language)
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 303, response.text
    token = csrf_token(client.get("/account").text)
    client.headers["X-CSRF-Token"] = token
    return client


def csrf_token(html: str) -> str:
    """The CSRF token a page carries in its ``<meta name="csrf-token">``."""
    match = _CSRF_META.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)
