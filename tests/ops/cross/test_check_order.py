"""Order of checks: no session is 401 before any validation, on every API route; CSRF tokens
that are not ASCII are refused (403), not a 500."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api_helpers import login
from weiwan.ops.org.sessions import CSRF_HEADER
from weiwan.web.app import PUBLIC_API_ENDPOINTS

#: the only operations that need no session (the SMS receipts and replies take the gateway's
#: token, event intake a source's bearer token)
PUBLIC = {
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/sms/delivery-receipts"),
    ("POST", "/api/v1/sms/replies"),
    ("POST", "/api/v1/events"),
}


def _operations(app: FastAPI) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    ]


def _bad_path(path: str) -> str:
    """The path with every parameter given a value no route accepts."""
    return re.sub(r"{\w+}", "not-a-valid-value-%E2%9C%93", path)


def test_only_login_and_the_token_routes_are_public(app: FastAPI) -> None:
    """Every operation but these four answers an anonymous caller "not logged in"."""
    client = TestClient(app)
    public = set()
    for method, path in _operations(app):
        response = client.request(method, re.sub(r"{\w+}", "1", path))
        body = response.json()
        if body.get("detail") != "not logged in":
            public.add((method, path))
        else:  # and in the caller's language (Chinese by default)
            assert body == {"detail": "not logged in", "message": "请登录"}, (method, path)
    assert public == PUBLIC
    assert {endpoint.__name__ for endpoint in PUBLIC_API_ENDPOINTS} == {
        "login",
        "delivery_receipts",
        "replies",
        "take_in",
    }


@pytest.mark.parametrize(
    "variant",
    ["nothing", "invalid", "non_finite"],
)
def test_anonymous_requests_are_401_before_validation(app: FastAPI, variant: str) -> None:
    """Every operation that needs login, called without a session with no parameters or
    body, or with invalid ones: 401 (not 422, 405 or 500)."""
    client = TestClient(app)
    answers: dict[str, Any] = {}
    for method, path in _operations(app):
        if (method, path) in PUBLIC:
            continue
        if variant == "nothing":
            response = client.request(method, re.sub(r"{\w+}", "1", path))
        elif variant == "non_finite":  # refused by the strict JSON reader, but 401 comes first
            response = client.request(
                method,
                re.sub(r"{\w+}", "1", path),
                content=b'{"value": NaN}',
                headers={"content-type": "application/json"},
            )
        else:
            response = client.request(
                method,
                _bad_path(path),
                params={"limit": "-1", "phone": "x" * 500, "month": "nope"},
                content=b'{"broken": ',
                headers={"content-type": "application/json"},
            )
        answers[f"{method} {path}"] = response.status_code
    wrong = {op: code for op, code in answers.items() if code != 401}
    assert len(answers) >= 65
    assert not wrong, wrong


def test_screen_pop_without_a_phone_is_401_for_an_anonymous_caller(app: FastAPI) -> None:
    assert TestClient(app).get("/api/v1/screen-pop").status_code == 401


@pytest.mark.usefixtures("people")
@pytest.mark.parametrize("token", ["令牌", "tok\u00e9n", "\u2028"])
def test_a_non_ascii_csrf_token_is_refused_not_an_error(app: FastAPI, token: str) -> None:
    client = login(app, "admin")
    body = {"code": "SX", "name_zh": "绍兴分公司", "name_en": "Shaoxing"}
    header = client.post("/api/v1/branches", json=body, headers={CSRF_HEADER: token.encode()})
    assert header.status_code == 403, header.text
    client.headers.pop(CSRF_HEADER)
    form = client.post("/logout", data={"csrf_token": token})
    assert form.status_code == 403, form.text
