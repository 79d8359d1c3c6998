"""``/healthz`` (the process answers) and ``/readyz`` (it can serve: see ``service``); outside
the API and its login, for load balancers and monitoring."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from weiwan.ops.base import utcnow
from weiwan.ops.health.service import readiness

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> JSONResponse:
    """200 while the process answers."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """200 when the database answers, its schema is current and today's publication is there
    or not yet due; 503 with the failing checks otherwise."""
    settings = request.app.state.settings

    def check() -> dict[str, Any]:
        with request.app.state.session_factory() as session:
            found = readiness(
                session, utcnow(), ZoneInfo(settings.timezone), settings.publication_due
            )
        return {
            "ready": found.ready,
            "database": found.database,
            "migrations": found.migrations,
            "publication": found.publication,
            "latest_publication": (
                found.latest_publication.isoformat() if found.latest_publication else None
            ),
            "problems": found.problems,
        }

    body = await run_in_threadpool(check)
    return JSONResponse(body, status_code=200 if body["ready"] else 503)
