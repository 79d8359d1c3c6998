"""The lookup rate limit at the HTTP edge: the limit and the clock of a request, and the 429
answer (see ``customers.lookups``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import HTTPException, Request, status

from weiwan.ops.customers.lookups import LookupLimitError
from weiwan.ops.deps import request_now


@dataclass(frozen=True, slots=True)
class LookupBudget:
    """The lookups a user may make per minute (setting ``lookup_limit_per_minute``) and the
    moment of this request."""

    limit: int
    now: datetime


def lookup_budget(request: Request) -> LookupBudget:
    """The request's budget at the application's clock (``deps.request_now``)."""
    return LookupBudget(request.app.state.settings.lookup_limit_per_minute, request_now(request))


def too_many(exc: LookupLimitError, detail: str | None = None) -> HTTPException:
    """429 with ``Retry-After`` (the seconds until the user's oldest lookup leaves the
    minute) and a message (``detail`` for pages, translated by the caller)."""
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        detail or str(exc),
        headers={"Retry-After": str(exc.retry_after)},
    )
