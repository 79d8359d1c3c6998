"""Login, logout, language switch, the landing redirect and the account page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from weiwan.ops.deps import Db
from weiwan.ops.org.roles import Role
from weiwan.ops.org.service import authenticate
from weiwan.ops.org.sessions import new_csrf_token, password_fingerprint
from weiwan.web.i18n import LANGUAGES, gettext, normalise_language
from weiwan.web.middleware import LANGUAGE_COOKIE
from weiwan.web.nav import home_for
from weiwan.web.pages.deps import PageActor, login_url
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)


def safe_next(value: str | None) -> str | None:
    """``value`` when it is a path on this site (no open redirect), else ``None``."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


@router.get("/", response_class=HTMLResponse)
def landing(request: Request) -> Response:
    """Logged in: the role's first page; otherwise the login page."""
    if "uid" not in request.session:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/account?home=1", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    """The login form."""
    return render(request, "login.html", {"next": safe_next(next) or ""})


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    db: Db,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the password (lock-out and audit as the API's login); on success a new session."""
    ip = request.client.host if request.client else None
    user = authenticate(db, username, password, ip=ip)
    if user is None:
        db.commit()  # keep the failure count and the audit event
        return render(
            request,
            "login.html",
            {
                "next": safe_next(next) or "",
                "username": username,
                "error": gettext("Wrong username or password, or the account is locked."),
            },
            status_code=401,
        )
    request.session.clear()  # a new session on login (no fixation)
    request.session.update(
        {"uid": user.id, "csrf": new_csrf_token(), "pwd": password_fingerprint(user.password_hash)}
    )
    return RedirectResponse(safe_next(next) or home_for(Role(user.role)), status_code=303)


@router.post("/logout")
def logout(request: Request, actor: PageActor) -> Response:
    """End the session and go back to the login page."""
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/lang/{language}")
def switch_language(request: Request, language: str, next: str | None = None) -> Response:
    """Remember the reader's language (a cookie, one year) and go back to the page."""
    chosen = normalise_language(language)
    response = RedirectResponse(safe_next(next) or "/", status_code=303)
    if chosen in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            chosen,
            max_age=365 * 24 * 3600,
            samesite="lax",
            httponly=True,
            secure=request.app.state.settings.secure_cookies,
        )
    return response


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, actor: PageActor, home: int = 0) -> Response:
    """Who is logged in, with which role, scope and permissions; ``?home=1`` forwards to the
    role's first page."""
    if home:
        return RedirectResponse(home_for(actor.role), status_code=303)
    return render(request, "account.html", {"permissions": actor.permissions})


__all__ = ["LANGUAGE_COOKIE", "login_url", "router"]
