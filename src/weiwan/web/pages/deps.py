"""Dependencies of every page: the logged-in actor (else a redirect to the login page), the
page context, and the audited Excel export."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, status
from fastapi.responses import Response
from starlette.datastructures import FormData

from weiwan.ops.deps import Db, LocalTz, check_csrf, current_actor, has_session_cookie
from weiwan.ops.org.access import Actor
from weiwan.ops.org.service import AuditAction, audit
from weiwan.web.tables import Table, xlsx_response


class LoginRequiredError(Exception):
    """The page needs a logged-in user; answered with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def login_url(next_url: str) -> str:
    """The login page, coming back to ``next_url`` afterwards."""
    return f"/login?next={quote(next_url, safe='')}"


def _next_url(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query and request.method == "GET" else "")


async def _session_or_login(request: Request) -> None:
    """Pages: a request without a session goes to the login page (not a 401)."""
    if not has_session_cookie(request):
        raise LoginRequiredError(_next_url(request))


def page_actor(
    request: Request,
    db: Db,
    _login: None = Depends(_session_or_login),
    _csrf: None = Depends(check_csrf),
) -> Actor:
    """The logged-in, active user of a page; a redirect to the login page otherwise. Unsafe
    requests carry the CSRF token as the API's do (htmx sends the header, forms the field)."""
    try:
        return current_actor(request, db, None)
    except HTTPException as exc:
        if exc.status_code == status.HTTP_401_UNAUTHORIZED:
            raise LoginRequiredError(_next_url(request)) from exc
        raise


PageActor = Annotated[Actor, Depends(page_actor)]


async def page_form(request: Request) -> FormData:
    """The submitted form, parsed before the route runs, so that routes stay plain ``def``
    functions whose database work runs in the thread pool (an ``async def`` route would hold
    the event loop during its queries). Starlette caches it: the CSRF check reads the same."""
    return await request.form()


PageForm = Annotated[FormData, Depends(page_form)]


def export_tables(
    request: Request,
    actor: Actor,
    db: Any,
    tables: Sequence[Table],
    filename: str,
    tz: Any,
) -> Response:
    """The tables as an Excel file, for roles that may export; audited as ``export``."""
    actor.require_export()
    wanted = request.query_params.get("table")
    chosen = [t for t in tables if not wanted or t.table_id == wanted] or list(tables)
    audit(
        db,
        actor.user_id,
        AuditAction.EXPORT,
        target_type="page",
        target_id=request.url.path[:64],
        detail={"tables": [t.table_id for t in chosen], "rows": sum(len(t.rows) for t in chosen)},
        ip=request.client.host if request.client else None,
    )
    return xlsx_response(chosen, filename, tz)


__all__ = [
    "Db",
    "LocalTz",
    "LoginRequiredError",
    "PageActor",
    "PageForm",
    "export_tables",
    "login_url",
]
