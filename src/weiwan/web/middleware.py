"""ASGI middleware: hardening headers; the client's address for the audit trail; the reader's
language for the whole request; the server time of each response."""

from __future__ import annotations

import time
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from weiwan.ops.org.client import serving_client
from weiwan.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, normalise_language, use_locale

LANGUAGE_COOKIE = "weiwan_lang"


def _cookie_language(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is the default language, not an error
                return None
            morsel = cookie.get(LANGUAGE_COOKIE)
            return normalise_language(morsel.value) if morsel else None
    return None


#: the primary subtags of the languages weiwan speaks ("zh", "en")
_SPOKEN = frozenset(language.split("-")[0].lower() for language in LANGUAGES)


def _accepted_language(scope: Scope) -> str | None:
    """The first language of ``Accept-Language`` (by its weights) weiwan speaks, if any."""
    header = next((v for n, v in scope.get("headers", ()) if n == b"accept-language"), None)
    if header is None:
        return None
    weighted = []
    for position, part in enumerate(header.decode("latin-1").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and weight > 0:
            weighted.append((-weight, position, tag))
    for _weight, _position, tag in sorted(weighted):
        if tag.split("-")[0].lower() in _SPOKEN:
            return normalise_language(tag)
    return None


def request_language(scope: Scope) -> str:
    """The language of a request: the ``weiwan_lang`` cookie; for the API (callers without a
    browser) else its ``Accept-Language``; else zh-CN. Pages ignore ``Accept-Language``: the
    product's default language is Chinese whatever the browser says."""
    chosen = _cookie_language(scope)
    if chosen is None and str(scope.get("path", "")).startswith("/api/"):
        chosen = _accepted_language(scope)
    return chosen or DEFAULT_LANGUAGE


class LanguageMiddleware:
    """Sets the language (:func:`request_language`) for templates, formatting and errors."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with use_locale(request_language(scope)):
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


#: Same-origin only. No 'unsafe-inline': the templates carry no inline script, style or event
#: handler (page code lives in /static/app.js, which sets the few computed sizes through the
#: DOM). ``img-src data:`` is for Bootstrap's SVG icons, which its CSS embeds as data URLs.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_HARDENING: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
STATIC_PREFIX = "/static/"


def _secure(cookie: bytes) -> bytes:
    return cookie if b"; secure" in cookie.lower() else cookie + b"; Secure"


class SecurityHeadersMiddleware:
    """Hardening headers on every response: the content security policy, no framing, no
    MIME sniffing, a same-origin referrer and ``Cache-Control: no-store`` on everything but
    the static assets (pages and API answers carry personal data). A response that sets its
    own policy keeps it (the API documentation page). Over HTTPS every cookie is ``Secure``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith(STATIC_PREFIX)
        https = scope.get("scheme") == "https"

        async def hardened_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, _secure(value) if https and name == b"set-cookie" else value)
                    for name, value in message.get("headers", [])
                    if static or name != b"cache-control"
                ]
                present = {name for name, _ in headers}
                headers.extend(item for item in _HARDENING if item[0] not in present)
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, hardened_send)


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
