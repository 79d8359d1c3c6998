"""Helpers of the page tests: a browser-like client logged in through the login form."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from api_helpers import PASSWORD

_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
_LOGIN_CSRF = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')


def post_login(
    client: TestClient, username: str, password: str = PASSWORD, **fields: str
) -> Response:
    """``POST /login`` as a browser does: the form's CSRF token from ``GET /login`` first."""
    match = _LOGIN_CSRF.search(client.get("/login").text)
    assert match, "the login form has no CSRF token"
    data = {"username": username, "password": password, "csrf_token": match.group(1), **fields}
    response: Response = client.post("/login", data=data)
    return response


def page_login(app: FastAPI, username: str, language: str | None = None) -> TestClient:
    """A client logged in through ``POST /login`` (as a browser would), with the page's CSRF
    token in its headers (as htmx sends it) and the language cookie when given."""
    client = TestClient(app, follow_redirects=False)
    if language:
        client.cookies.set("weiwan_lang", language)
    response = post_login(client, username)
    assert response.status_code == 303, response.text
    token = csrf_token(client.get("/account").text)
    client.headers["X-CSRF-Token"] = token
    return client


def csrf_token(html: str) -> str:
    """The CSRF token a page carries in its ``<meta name="csrf-token">``."""
    match = _CSRF_META.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)
