"""The application: REST API under /api/v1 with its OpenAPI document, sessions, error mapping."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm import sessionmaker
from starlette.middleware.sessions import SessionMiddleware

from weiwan.core.db import engine_for
from weiwan.core.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    WeiwanError,
)
from weiwan.core.settings import Settings, get_settings
from weiwan.web.routes import API_ROUTERS
from weiwan.web.security import SESSION_COOKIE, secret_key

API_PREFIX = "/api/v1"

_STATUS: tuple[tuple[type[WeiwanError], int], ...] = (
    (NotFoundError, 404),
    (PermissionDeniedError, 403),
    (ConflictError, 409),
    (InvalidRequestError, 422),
)


async def _weiwan_error(_request: Request, exc: Exception) -> JSONResponse:
    """Domain errors become 4xx with a message (and the field when known), never 5xx."""
    code = next((c for kind, c in _STATUS if isinstance(exc, kind)), 400)
    body: dict[str, object] = {"detail": str(exc)}
    field = getattr(exc, "field", None)
    if field:
        body["field"] = field
    return JSONResponse(body, status_code=code)


async def _data_error(_request: Request, exc: Exception) -> JSONResponse:
    """A value the database cannot hold (out of range, wrong type) is the client's error; the
    schemas bound ids and numbers, this is the net under them."""
    return JSONResponse(
        {"detail": "a value is out of range or of the wrong type for the database"},
        status_code=422,
    )


async def _unavailable(_request: Request, exc: Exception) -> JSONResponse:
    """The database went away (restart, network): ask the client to retry."""
    return JSONResponse(
        {"detail": "the database is not reachable; try again"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


def api_router() -> APIRouter:
    """Every domain's API routes under one router."""
    router = APIRouter(prefix=API_PREFIX)
    for domain_router in API_ROUTERS:
        router.include_router(domain_router)
    return router


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The web application on ``engine`` (default: the database the settings name)."""
    settings = settings or get_settings()
    engine = engine or engine_for(settings)
    app = FastAPI(
        title="weiwan",
        summary="Customer retention for telecom operators: operational API",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = sessionmaker(bind=engine, expire_on_commit=False)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key(settings),
        session_cookie=SESSION_COOKIE,
        max_age=int(settings.session_hours * 3600),
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    app.add_exception_handler(WeiwanError, _weiwan_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(OperationalError, _unavailable)
    app.include_router(api_router())
    return app
