"""Every JSON error of the API says what went wrong in the caller's language.

The exception handlers (``web.app``) build their bodies with ``message`` themselves. A few
routes answer an error with a structured body of their own (the appraisal scheme's and a
dialer import's error lists, a blocked SMS with its record, the event backlog's 429), and the
strict-JSON guard answers before any route; :class:`ErrorMessageMiddleware` adds the plain
words for the status to those, so no API error reaches a person in English only. Written here
because no middleware we use rewrites a JSON body, and a body that already has ``message`` or
is not a JSON object passes untouched.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from weiwan.web.i18n import gettext

API_PREFIX = "/api/"


def status_title(status_code: int) -> str:
    """What an error of ``status_code`` is, in plain words of the reader's language."""
    titles = {
        401: gettext("Please log in"),
        403: gettext("Not allowed"),
        404: gettext("Not found"),
        405: gettext("Not possible now"),
        409: gettext("Not possible now"),
        413: gettext("The file is too large"),
        422: gettext("Please check your input"),
        429: gettext("Too many requests; try again later"),
        503: gettext("The database is not reachable; try again"),
    }
    return titles.get(status_code, gettext("Something went wrong"))


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(
        name.lower() == b"content-type" and value.split(b";")[0].strip() == b"application/json"
        for name, value in headers
    )


def with_message(body: bytes, status_code: int) -> bytes | None:
    """``body`` with ``message`` added (the status's plain words), or None when it is not a
    JSON object or already has one."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    if not isinstance(parsed, dict) or "message" in parsed:
        return None
    parsed["message"] = status_title(status_code)
    return json.dumps(parsed, ensure_ascii=False, separators=(",", ":")).encode()


class ErrorMessageMiddleware:
    """Adds ``message`` to API error bodies that lack one (inside the language middleware, so
    the words are the caller's). Other responses stream through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def completing_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if message["status"] >= 400 and _is_json(headers):
                    start = message  # held until the whole body is known
                    return
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                await _send_completed(send, start, b"".join(chunks))
                return
            await send(message)

        await self.app(scope, receive, completing_send)


async def _send_completed(send: Send, start: Message, body: bytes) -> None:
    """Send the held error response, its body completed with ``message`` where it lacks one."""
    completed = with_message(body, int(start["status"]))
    if completed is not None:
        body = completed
        headers = [(n, v) for n, v in start.get("headers", []) if n.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        start = {**start, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})
