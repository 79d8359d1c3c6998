"""JSON request bodies parsed strictly: ``NaN``, ``Infinity`` and ``-Infinity`` are refused.

They are not JSON (RFC 8259), but Python's ``json`` (which Starlette's ``Request.json`` and
so FastAPI use) accepts them as floats. A non-finite float then reaches the schemas — and
``dict``/``Any`` fields such as target filters — and a route, or the 422 answer that echoes
it, fails with a 500 (33 of 35 routes, login included, before this check).

Done once, as ASGI middleware in front of every route, rather than per schema
(``allow_inf_nan=False`` on each model would miss ``dict``/``Any`` fields and every model
added later) or per router (a custom route class must be set on each router): every JSON
body of every route, present and future, API or page, passes here. The check costs a
substring search; only a body that contains ``NaN`` or ``Infinity`` is parsed (with
``parse_constant`` marking the constants, so text such as ``"NaN"`` inside a string passes)
and, when a bare constant is found, answered 422 naming the field, in FastAPI's
validation-error shape. A body that is not valid JSON at all is left to FastAPI's own 422.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: the message of the refusal (API only, so English like the other validation messages)
NON_FINITE_MESSAGE = "NaN, Infinity and -Infinity are not JSON numbers; send a number or null"
_TOKENS = (b"NaN", b"Infinity")


class _Constant:
    """Stands for a bare ``NaN`` / ``Infinity`` / ``-Infinity`` in the parsed body."""

    def __init__(self, name: str) -> None:
        self.name = name


def loads_strict(text: str | bytes) -> Any:
    """``json.loads`` refusing ``NaN``/``Infinity`` (ValueError, as for any invalid JSON)."""
    return json.loads(text, parse_constant=_refuse_constant)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def non_finite_location(body: bytes) -> tuple[list[str | int], str] | None:
    """(path, constant) of the first bare non-finite constant in the JSON ``body``; ``None``
    when there is none or the body is not JSON."""
    if not any(token in body for token in _TOKENS):
        return None
    try:
        value = json.loads(body, parse_constant=_Constant)
    except (ValueError, RecursionError):
        return None
    stack: list[tuple[Any, list[str | int]]] = [(value, [])]
    while stack:  # iterative: a deeply nested body must not recurse here
        node, path = stack.pop()
        if isinstance(node, _Constant):
            return path, node.name
        if isinstance(node, dict):
            stack.extend((v, [*path, str(k)]) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((v, [*path, i]) for i, v in reversed(list(enumerate(node))))
    return None


def _json_body_expected(scope: Scope) -> bool:
    """Whether the request may carry a JSON body: a JSON content type (or none) and a body
    announced (a non-zero Content-Length, or chunked transfer)."""
    headers: dict[bytes, bytes] = dict(scope.get("headers", ()))
    if headers.get(b"content-length", b"0").strip() in (b"", b"0") and (
        b"transfer-encoding" not in headers
    ):
        return False
    content_type = headers.get(b"content-type")
    if content_type is None:
        return True
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


class StrictJSONMiddleware:
    """Answers 422 to a JSON body holding ``NaN``/``Infinity``; passes everything else.

    ``defer(scope)`` names requests whose refusal is not ours to give first: an anonymous
    caller of a route that needs a session gets its 401 from the route (the router's session
    check runs before the body is used), so the 422 would tell it about the route's body.
    """

    def __init__(self, app: ASGIApp, defer: Callable[[Scope], bool] | None = None) -> None:
        self.app = app
        self.defer = defer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _json_body_expected(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        last: Message | None = None
        while True:
            message = await receive()
            if message["type"] != "http.request":
                last = message  # the client went away: hand that on after the body
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        found = non_finite_location(body)
        if found is not None and not (self.defer is not None and self.defer(scope)):
            path, constant = found
            error = {
                "type": "json_invalid",
                "loc": ["body", *path],
                "msg": NON_FINITE_MESSAGE,
                "input": constant,
            }
            await JSONResponse({"detail": [error]}, status_code=422)(scope, receive, send)
            return
        pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
        if last is not None:
            pending.append(last)

        async def replay() -> Message:
            return pending.pop(0) if pending else await receive()

        await self.app(scope, replay, send)
