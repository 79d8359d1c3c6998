"""ASGI middleware: the reader's language for the whole request; the server time of each
response; the client's address for the audit trail."""

from __future__ import annotations

import time
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from weiwan.ops.org.client import serving_client
from weiwan.web.i18n import DEFAULT_LANGUAGE, normalise_language, use_locale

LANGUAGE_COOKIE = "weiwan_lang"


def _cookie_language(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is the default language, not an error
                return DEFAULT_LANGUAGE
            morsel = cookie.get(LANGUAGE_COOKIE)
            return normalise_language(morsel.value) if morsel else DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


class LanguageMiddleware:
    """Sets the language (cookie ``weiwan_lang``, else zh-CN) for templates and formatting."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with use_locale(_cookie_language(scope)):
            await self.app(scope, receive, send)


class ServerTimingMiddleware:
    """Adds ``Server-Timing: app;dur=<ms>`` to every response: the time from the request's
    arrival to the response's start (pages render fully before they start), which the page
    benchmark reads and a browser's developer tools show."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={elapsed:.1f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed_send)


class ClientAddressMiddleware:
    """Makes the client's address (the ASGI scope's ``client``) the one audit rows record
    for the whole request (``ops.org.client``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        with serving_client(client[0] if client else None):
            await self.app(scope, receive, send)
