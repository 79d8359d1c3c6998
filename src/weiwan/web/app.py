"""The application: REST API under /api/v1 with its OpenAPI document, sessions, error mapping."""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import Scope

from weiwan.core.db import engine_for
from weiwan.core.errors import (
    MORE_PROBLEMS,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    WeiwanError,
    cap_text,
    join_problems,
)
from weiwan.core.settings import Settings, get_settings
from weiwan.ops.base import utcnow
from weiwan.ops.deps import Db, has_session_cookie, require_session, resolve_actor, session_user
from weiwan.ops.events.api import take_in as events_endpoint
from weiwan.ops.health.api import router as health_router
from weiwan.ops.org.access import actor_for
from weiwan.ops.org.api import login as login_endpoint
from weiwan.ops.org.directory_login import directory_login
from weiwan.ops.org.sessions import SESSION_KEY
from weiwan.ops.sms.api import delivery_receipts as receipts_endpoint
from weiwan.ops.sms.api import replies as replies_endpoint
from weiwan.web.error_messages import ErrorMessageMiddleware, status_title
from weiwan.web.errors import error_text, in_reader_language, validation_body
from weiwan.web.i18n import gettext
from weiwan.web.metrics import MetricsMiddleware
from weiwan.web.metrics import router as metrics_router
from weiwan.web.middleware import (
    ClientAddressMiddleware,
    LanguageMiddleware,
    SecurityHeadersMiddleware,
    ServerTimingMiddleware,
)
from weiwan.web.pages.deps import LoginRequiredError, login_url
from weiwan.web.routes import API_ROUTERS, PAGE_ROUTERS
from weiwan.web.security import SESSION_COOKIE, secret_key
from weiwan.web.strict_json import StrictJSONMiddleware
from weiwan.web.templating import render

API_PREFIX = "/api/v1"

_STATUS: tuple[tuple[type[WeiwanError], int], ...] = (
    (NotFoundError, 404),
    (PermissionDeniedError, 403),
    (ConflictError, 409),
    (InvalidRequestError, 422),
)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _known_actor(request: Request) -> None:
    """Put the session's user on ``request.state`` when no route did (an unknown address), so
    that the error page keeps the menu; any failure simply leaves the page without it."""
    if getattr(request.state, "actor", None) is not None or not has_session_cookie(request):
        return
    session = request.app.state.session_factory()
    try:
        user = session_user(request, session)
        if user is not None:
            request.state.actor = actor_for(session, user)
        session.commit()
    except SQLAlchemyError:
        session.rollback()
    finally:
        session.close()


def _api_error(
    status_code: int,
    detail: object,
    message: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: object,
) -> JSONResponse:
    """An API error body: ``detail`` as the service says it (English, for programs) and
    ``message`` in the caller's language (cookie ``weiwan_lang``, else ``Accept-Language``,
    else Chinese), for people: the error's translation, else the plain words for its
    status."""
    text = message if message and in_reader_language(message) else status_title(status_code)
    body = {"detail": detail, "message": text, **extra}
    return JSONResponse(body, status_code=status_code, headers=headers)


def _error_page(request: Request, status_code: int, message: str) -> Response:
    """The error as a page (htmx requests get the same fragment, swapped by the page)."""
    _known_actor(request)
    title = status_title(status_code)
    if not in_reader_language(message):  # e.g. Starlette's "Not Found": the title says it
        message = ""
    template = "error_fragment.html" if request.headers.get("HX-Request") else "error.html"
    headers = (
        {"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"}
        if template.startswith("error_fragment")
        else None
    )
    return render(
        request,
        template,
        {"title": title, "message": message, "status_code": status_code},
        status_code=status_code,
        headers=headers,
    )


async def _weiwan_error(request: Request, exc: Exception) -> Response:
    """Domain errors become 4xx with a message (and the field when known), never 5xx."""
    code = next((c for kind, c in _STATUS if isinstance(exc, kind)), 400)
    if not _is_api(request):
        return _error_page(request, code, error_text(exc))
    field = getattr(exc, "field", None)
    extra = {"field": field} if field else {}
    return _api_error(code, cap_text(str(exc)), error_text(exc), **extra)


async def _data_error(request: Request, exc: Exception) -> Response:
    """A value the database cannot hold (out of range, wrong type) is the client's error; the
    schemas bound ids and numbers, this is the net under them."""
    message = "a value is out of range or of the wrong type for the database"
    if not _is_api(request):
        return _error_page(request, 422, gettext(message))
    return _api_error(422, message, gettext(message))


async def _unavailable(request: Request, exc: Exception) -> Response:
    """The database went away (restart, network): ask the client to retry."""
    if not _is_api(request):
        return _error_page(request, 503, gettext("The database is not reachable; try again"))
    return _api_error(503, "the database is not reachable; try again", headers={"Retry-After": "5"})


async def _login_required(request: Request, exc: Exception) -> Response:
    """A page without a session goes to the login page (htmx: the whole window does)."""
    assert isinstance(exc, LoginRequiredError)
    target = login_url(exc.next_url)
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _http_error(request: Request, exc: Exception) -> Response:
    """HTTP errors: JSON under /api/v1 (FastAPI's form), a page elsewhere."""
    assert isinstance(exc, StarletteHTTPException)
    if _is_api(request):
        return _api_error(exc.status_code, exc.detail, str(exc.detail), headers=exc.headers)
    return _error_page(request, exc.status_code, str(exc.detail))


async def _invalid_request(request: Request, exc: Exception) -> Response:
    """Validation errors: FastAPI's 422 body under /api/v1 (echoed values made JSON-safe and
    short); a page naming the fields elsewhere; capped either way (web/errors.py)."""
    assert isinstance(exc, RequestValidationError)
    if _is_api(request) and _needs_session(request) and not has_session_cookie(request):
        # a body FastAPI could not even parse fails before the router's session check: an
        # anonymous caller learns nothing about the route's parameters either way
        return _api_error(401, "not logged in")
    if _is_api(request):
        body = validation_body(exc.errors())
        return _api_error(422, body.pop("detail"), **body)
    fields = [
        f"{'.'.join(str(p) for p in error['loc'][1:]) or error['loc'][0]}: {error['msg']}"
        for error in exc.errors()
    ]
    return _error_page(request, 422, join_problems(fields, more=gettext(MORE_PROBLEMS)))


#: The API's routes that need no session: logging in, the SMS gateway's delivery receipts and
#: forwarded replies and event intake (their own tokens). Every other route, present or
#: future, needs one (deny by default).
PUBLIC_API_ENDPOINTS: frozenset[Callable[..., Any]] = frozenset(
    {login_endpoint, receipts_endpoint, replies_endpoint, events_endpoint}
)


async def _api_session(request: Request) -> None:
    """The API router's own dependency, run before any parameter of the route is validated:
    401 without a session unless the route is one of :data:`PUBLIC_API_ENDPOINTS`."""
    if _needs_session(request):
        await require_session(request)


def _needs_session(request: Request) -> bool:
    return request.scope.get("endpoint") not in PUBLIC_API_ENDPOINTS


def _anonymous_caller(public_paths: set[str]) -> Callable[[Scope], bool]:
    """Whether a request is an API call without a session to a route that needs one (the
    ASGI-level twin of :func:`_needs_session`, for middleware that runs before routing)."""

    def anonymous(scope: Scope) -> bool:
        session = scope.get("session") or {}
        path = str(scope.get("path", ""))
        return (
            path.startswith(API_PREFIX)
            and path not in public_paths
            and not isinstance(session.get(SESSION_KEY), str)
        )

    return anonymous


def api_router() -> APIRouter:
    """Every domain's API routes under one router, which requires a session first."""
    router = APIRouter(prefix=API_PREFIX, dependencies=[Depends(_api_session)])
    for domain_router in API_ROUTERS:
        router.include_router(domain_router)
    return router


SWAGGER_UI = "/static/vendor/swagger-ui-dist-5.35.0"
#: The API documentation page: Swagger UI from the vendored copy, started by /static/api-docs.js
#: (no inline script, nothing from a CDN). Swagger UI sets inline styles on its elements, so this
#: page alone allows them; every other response gets the app's strict policy (web.middleware).
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; object-src 'none'; base-uri 'self'"
)
DOCS_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>weiwan API</title>
<link rel="stylesheet" href="{SWAGGER_UI}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{API_PREFIX}/openapi.json"></div>
<script src="{SWAGGER_UI}/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script>
</body>
</html>
"""


def _docs_router() -> APIRouter:
    """``/api/v1/openapi.json`` and ``/api/v1/docs``: any logged-in user, or everyone when
    ``api_docs_public`` is set."""

    def docs_reader(request: Request, db: Db) -> None:
        if not request.app.state.settings.api_docs_public:
            resolve_actor(request, db)

    router = APIRouter(prefix=API_PREFIX, include_in_schema=False)

    @router.get("/openapi.json")
    def openapi(request: Request, _reader: None = Depends(docs_reader)) -> JSONResponse:
        return JSONResponse(request.app.openapi())

    @router.get("/docs")
    def docs(_reader: None = Depends(docs_reader)) -> Response:
        return HTMLResponse(DOCS_PAGE, headers={"Content-Security-Policy": DOCS_CSP})

    return router


def bind_app(app: FastAPI, settings: Settings, engine: Engine) -> None:
    """Point ``app`` at ``settings`` and ``engine``: the state every request reads (the clock,
    the database's sessions, the login directory). The middleware keeps the settings it was
    created with (the session cookie's secret, lifetime and flags)."""
    app.state.settings = settings
    app.state.clock = utcnow  # tests move it to check the session lifetimes
    app.state.engine = engine
    app.state.session_factory = sessionmaker(bind=engine, expire_on_commit=False)
    app.state.directory = directory_login(settings)  # checked now: a bad setting fails here


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The web application on ``engine`` (default: the database the settings name)."""
    settings = settings or get_settings()
    engine = engine or engine_for(settings)
    app = FastAPI(
        title="weiwan",
        summary="Customer retention for telecom operators: operational API",
        version="1",
        openapi_url=None,  # served by _docs_router, behind login
        docs_url=None,
        redoc_url=None,
    )
    bind_app(app, settings, engine)
    public_paths: set[str] = set()  # filled once the routers are in
    # innermost: JSON bodies without NaN/Infinity (anonymous callers get their 401 first)
    app.add_middleware(StrictJSONMiddleware, defer=_anonymous_caller(public_paths))
    app.add_middleware(ErrorMessageMiddleware)  # inside the language: the caller's words
    app.add_middleware(LanguageMiddleware)
    app.add_middleware(ClientAddressMiddleware)
    app.add_middleware(ServerTimingMiddleware)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key(settings),
        session_cookie=SESSION_COOKIE,
        max_age=int(settings.session_hours * 3600),
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    # outermost: its headers are on every answer, error pages and the session cookie included
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_exception_handler(WeiwanError, _weiwan_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(OperationalError, _unavailable)
    app.add_exception_handler(LoginRequiredError, _login_required)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.include_router(api_router())
    # by route name (the function's): FastAPI includes routers lazily, so app.routes does
    # not list the API's routes one by one
    public_paths.update(app.url_path_for(e.__name__) for e in PUBLIC_API_ENDPOINTS)
    assert all(path.startswith(API_PREFIX) for path in public_paths), public_paths
    app.include_router(_docs_router())
    app.include_router(health_router)
    app.include_router(metrics_router)
    for page_router in PAGE_ROUTERS:
        app.include_router(page_router)
    app.mount("/static", StaticFiles(directory=_static_dir()), name="static")
    return app


def serve_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The application as a server process runs it (``weiwan serve``, the demo, the
    benchmark): :func:`create_app`, then the objects made so far frozen out of the garbage
    collector.

    Imports and the app leave ~190,000 long-lived objects; the first full collection under
    load walked all of them and stalled the process for 145–210 ms (measured in both workers
    of bench/bench_ops_api.py, the screen-pop's slowest requests). Frozen, a full collection
    takes 3–10 ms. Not done by :func:`create_app`, which tests call many times.
    """
    app = create_app(settings, engine)
    gc.freeze()
    return app


def _static_dir() -> Path:
    """The vendored and own assets (a real directory: the package is installed unzipped)."""
    return Path(str(resources.files("weiwan.web").joinpath("static")))
