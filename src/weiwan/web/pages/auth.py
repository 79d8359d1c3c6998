"""Login, logout, language switch, the landing redirect and the account page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from weiwan.ops.deps import (
    Db,
    client_ip,
    close_session,
    has_session_cookie,
    login_directory,
    login_policy,
    open_session,
    request_now,
)
from weiwan.ops.org.ldap_directory import DirectoryUnavailableError
from weiwan.ops.org.roles import Role
from weiwan.ops.org.service import authenticate
from weiwan.ops.org.sessions import CSRF_FIELD, new_csrf_token, tokens_match
from weiwan.ops.org.throttle import LoginThrottledError
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


#: the pre-session CSRF token of the login form, kept in the (anonymous) signed cookie
LOGIN_CSRF_KEY = "login_csrf"


def login_form_token(request: Request) -> str:
    """The login form's CSRF token, bound to this browser's cookie (made once per cookie)."""
    token = request.session.get(LOGIN_CSRF_KEY)
    if not isinstance(token, str) or not token:
        token = new_csrf_token()
        request.session[LOGIN_CSRF_KEY] = token
    return token


def _login_page(request: Request, status_code: int = 200, **context: object) -> Response:
    context.setdefault("next", "")
    return render(
        request,
        "login.html",
        {**context, "login_csrf": login_form_token(request)},
        status_code=status_code,
    )


@router.get("/", response_class=HTMLResponse)
def landing(request: Request) -> Response:
    """Logged in: the role's first page; otherwise the login page."""
    if not has_session_cookie(request):
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/account?home=1", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    """The login form (with its CSRF token)."""
    return _login_page(request, next=safe_next(next) or "")


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    db: Db,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    """Check the form's CSRF token, then the password (throttle, lock-out and audit as the
    API's login; a directory account in the directory when LDAP is configured); on success a
    new server-side session."""
    back = safe_next(next) or ""
    if not tokens_match(request.session.get(LOGIN_CSRF_KEY), csrf_token):
        return _login_page(
            request,
            403,
            next=back,
            username=username,
            error=gettext("The login form has expired. Please log in again."),
        )
    try:
        user = authenticate(
            db,
            username,
            password,
            ip=client_ip(request),
            now=request_now(request),
            policy=login_policy(request),
            directory=login_directory(request),
        )
    except DirectoryUnavailableError:
        db.commit()  # keep the audit of the attempt
        return _login_page(
            request,
            503,
            next=back,
            username=username,
            error=gettext(
                "The directory (LDAP) cannot be reached, so directory accounts cannot log in "
                "now. Please try again in a few minutes; local accounts are not affected."
            ),
        )
    except LoginThrottledError as exc:
        db.commit()  # keep the audit of the refused attempt
        response = _login_page(
            request,
            429,
            next=back,
            username=username,
            error=gettext(
                "Too many failed logins. Please try again in %(minutes)s minutes.",
                minutes=max(1, -(-exc.retry_after // 60)),
            ),
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if user is None:
        db.commit()  # keep the failure count and the audit event
        return _login_page(
            request,
            401,
            next=back,
            username=username,
            error=gettext("Wrong username or password, or the account is locked."),
        )
    open_session(request, db, user)
    return RedirectResponse(back or home_for(Role(user.role)), status_code=303)


@router.post("/logout")
def logout(request: Request, actor: PageActor, db: Db) -> Response:
    """End the session (server-side too) and go back to the login page."""
    close_session(request, db)
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
