"""``NaN`` / ``Infinity`` / ``-Infinity`` in a JSON body answer 422 on every route that takes
one (they gave 500 on 33 of 35), each tried as a role allowed there with the access matrix's
valid body, one field replaced by the bare constant."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from api_helpers import PASSWORD
from weiwan.core.db import make_engine
from weiwan.core.settings import Settings
from weiwan.ops.org.roles import Role
from weiwan.ops.sms.api import CALLBACK_HEADER
from weiwan.web.app import create_app
from weiwan.web.strict_json import non_finite_location

from .test_access_matrix import (  # the seeded matrix and its valid requests
    API,
    CALLBACK_TOKEN,
    ROUTES,
    USERNAME,
    Matrix,
    Req,
    Route,
    _client,
    isolated,  # noqa: F401
    matrix,  # noqa: F401
)

pytestmark = pytest.mark.postgres
CONSTANTS = ("NaN", "Infinity", "-Infinity")


def _json_body_operations(app: FastAPI) -> set[tuple[str, str]]:
    found = set()
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                found.add((method.upper(), path))
    return found


def _json_routes() -> list[Any]:
    """One matrix entry per operation that takes a JSON body (read from the OpenAPI document
    of an app built for the purpose, before the seeded matrix exists)."""
    app = create_app(
        Settings(home=Path(tempfile.mkdtemp()), secret_key="x"), make_engine("sqlite://")
    )
    keys = _json_body_operations(app)
    seen: dict[tuple[str, str], Route] = {}
    for route in ROUTES:
        if route.key in keys:
            seen.setdefault(route.key, route)
    return [pytest.param(r, id=r.id) for r in seen.values()]


def _with_constant(body: Any, constant: str) -> bytes:
    """The JSON text of ``body`` with its first value (or the whole body) a bare constant."""
    if isinstance(body, dict) and body:
        key = next(iter(body))
        rest = {k: v for k, v in body.items() if k != key}
        text = json.dumps(rest, ensure_ascii=False)
        inner = text[1:-1]
        return f'{{"{key}": {constant}{", " if inner else ""}{inner}}}'.encode()
    return constant.encode()


def test_every_json_body_route_is_tried(isolated: Matrix) -> None:  # noqa: F811
    """The parametrised test below covers each operation of the OpenAPI document that takes
    a JSON body (a new one without an entry in the access matrix fails its own test)."""
    tried = {p.values[0].key for p in _json_routes()}
    assert _json_body_operations(isolated.app) <= tried
    assert len(_json_body_operations(isolated.app)) >= 30


@pytest.mark.parametrize("route", _json_routes())
def test_non_finite_number_in_a_json_body_is_422(
    isolated: Matrix,  # noqa: F811
    route: Route,
) -> None:
    req: Req = route.request(isolated.seeded)
    role = min(route.allowed, key=lambda r: r.value, default=Role.DIRECTOR)
    body: Any = req.json
    headers = {"content-type": "application/json", **dict(req.headers or {})}
    if route.auth == "public":
        body = {"username": USERNAME[role], "password": PASSWORD}
    if route.auth == "token":  # the gateway: its token, no session
        headers[CALLBACK_HEADER] = CALLBACK_TOKEN
    client = _client(isolated, None if route.auth != "session" else role)
    for constant in CONSTANTS:
        payload = _with_constant(body if body is not None else {}, constant)
        assert non_finite_location(payload) is not None
        response = client.request(
            route.method,
            API + route.path.format(**req.path),
            params=dict(req.query) if req.query else None,
            content=payload,
            headers=headers,
        )
        assert response.status_code == 422, f"{route.id} {constant}: {response.text[:300]}"
        error = response.json()["detail"][0]
        assert error["type"] == "json_invalid" and error["input"] == constant


def test_text_that_reads_nan_is_still_accepted(isolated: Matrix) -> None:  # noqa: F811
    """Only the bare constants are refused: "NaN" inside a string is ordinary text."""
    assert non_finite_location(b'{"note": "NaN and Infinity"}') is None
    assert non_finite_location(b'{"a": [1, {"b": NaN}]}') == (["a", 1, "b"], "NaN")
    client = _client(isolated, Role.DIRECTOR)
    ok = client.post(f"{API}/auth/login", json={"username": "NaN", "password": "Infinity"})
    assert ok.status_code == 401
