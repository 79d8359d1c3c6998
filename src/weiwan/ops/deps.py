"""FastAPI dependencies of every ops route: DB session, logged-in actor, CSRF check."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from weiwan.ops.base import utcnow
from weiwan.ops.org.access import Actor, actor_for
from weiwan.ops.org.models import User
from weiwan.ops.org.service import DirectoryCheck
from weiwan.ops.org.sessions import (
    CSRF_FIELD,
    CSRF_HEADER,
    CSRF_KEY,
    SESSION_KEY,
    USER_KEY,
    EndReason,
    Lifetimes,
    end_session,
    live_session,
    new_csrf_token,
    start_session,
    tokens_match,
)
from weiwan.ops.org.throttle import LoginPolicy

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
T = TypeVar("T")


def _finish(session: Session, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One session per request: committed when the handler returns, rolled back on error.

    Used as ``Depends(get_db, scope="function")`` (:data:`Db`): the commit runs after the
    handler and before the response is sent, so a commit that fails answers 5xx (503 when the
    database is unreachable) instead of a 2xx/303 for a write that was lost. (FastAPI's
    default, request scope, runs the code after ``yield`` once the response has gone out.)

    Async so that opening the (lazy) session costs no thread hop; the commit or rollback and
    the close, which talk to the database, run together in one worker thread.
    """
    factory: sessionmaker[Session] = request.app.state.session_factory
    session = factory()
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_finish, session, False)
        raise
    await run_in_threadpool(_finish, session, True)


Db = Annotated[Session, Depends(get_db, scope="function")]


def _unauthorised() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, "not logged in")


def has_session_cookie(request: Request) -> bool:
    """Whether the signed cookie names a session (the record is checked by the actor)."""
    return isinstance(request.session.get(SESSION_KEY), str)


async def require_session(request: Request) -> None:
    """Router-level: 401 without a session cookie, before any parameter is validated (no
    database work: the session record is checked by :func:`resolve_actor`)."""
    if not has_session_cookie(request):
        raise _unauthorised()


async def check_csrf(request: Request) -> None:
    """Unsafe methods need the session's CSRF token in the header (API) or form field."""
    if request.method in SAFE_METHODS:
        return
    if not has_session_cookie(request):  # not logged in is 401 whatever the method
        raise _unauthorised()
    expected = request.session.get(CSRF_KEY)
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not tokens_match(expected, given):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")


def request_now(request: Request) -> datetime:
    """The application's clock (``app.state.clock``; tests move it instead of sleeping)."""
    clock: Callable[[], datetime] = getattr(request.app.state, "clock", utcnow)
    return clock()


def session_lifetimes(request: Request) -> Lifetimes:
    """The idle (``session_hours``) and absolute (``session_absolute_hours``) lifetimes."""
    settings = request.app.state.settings
    return Lifetimes(
        idle=timedelta(hours=settings.session_hours),
        absolute=timedelta(hours=settings.session_absolute_hours),
    )


def session_user(request: Request, db: Session) -> User | None:
    """The user of the request's open session, or ``None`` (one primary-key lookup)."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str):
        return None
    return live_session(db, token, now=request_now(request), lifetimes=session_lifetimes(request))


def resolve_actor(request: Request, db: Session) -> Actor:
    """The open session's active user as an :class:`Actor`; 401 otherwise (and the cookie is
    cleared when its session has ended, expired or its user is gone, inactive or locked)."""
    user = session_user(request, db)
    if user is None:
        db.commit()  # keep the end of an expired session: the 401 rolls the request back
        request.session.clear()
        raise _unauthorised()
    actor = actor_for(db, user)
    request.state.actor = actor
    return actor


def client_ip(request: Request) -> str | None:
    """The client's address as the server sees it (behind a proxy: uvicorn's forwarded one)."""
    return request.client.host if request.client else None


def login_directory(request: Request) -> DirectoryCheck | None:
    """The directory (LDAP) login the application was made with (``app.state.directory``,
    from the ``ldap_*`` settings), or ``None``: local accounts only."""
    directory: DirectoryCheck | None = getattr(request.app.state, "directory", None)
    return directory


def login_policy(request: Request) -> LoginPolicy:
    """The lock-out and throttle numbers of the settings."""
    return LoginPolicy.from_settings(request.app.state.settings)


def open_session(request: Request, db: Session, user: User) -> str:
    """After a successful login: a new server-side session in a new cookie (no fixation);
    returns the session's CSRF token."""
    token = start_session(
        db,
        user,
        now=request_now(request),
        absolute=session_lifetimes(request).absolute,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    # committed before the answer: the browser follows the login's redirect at once, and a
    # commit left to the end of the request could still be running when that next request
    # looks the session up
    db.commit()
    csrf = new_csrf_token()
    request.session.clear()
    request.session.update({SESSION_KEY: token, USER_KEY: user.id, CSRF_KEY: csrf})
    return csrf


def close_session(request: Request, db: Session) -> None:
    """Logout: end the server-side session and clear the cookie."""
    token = request.session.get(SESSION_KEY)
    if isinstance(token, str):
        end_session(db, token, EndReason.LOGOUT, now=request_now(request))
        db.commit()  # ended before the answer says so
    request.session.clear()


def current_actor(request: Request, db: Db, _csrf: None = Depends(check_csrf)) -> Actor:
    """The logged-in, active user as an :class:`Actor`; 401 otherwise."""
    return resolve_actor(request, db)


def _in_one_transaction(request: Request, work: Callable[[Session, Actor], T]) -> T:
    session: Session = request.app.state.session_factory()
    try:
        result = work(session, resolve_actor(request, session))
        session.commit()
        return result
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


async def as_actor(request: Request, work: Callable[[Session, Actor], T]) -> T:
    """Resolve the caller and run ``work`` and the commit in one worker thread.

    For the hottest routes (screen-pop, recording an outcome), written ``async def`` with
    ``await as_actor(request, ...)`` instead of a sync handler with ``CurrentActor`` and
    ``Db``: FastAPI would run the actor dependency, the handler and the commit in three
    thread hops, and under load each hop waits for the event loop and the GIL (measured on
    bench/bench_ops_api.py; see docs/decisions/0006-hot-routes.md). Same checks, same session.
    """
    return await run_in_threadpool(_in_one_transaction, request, work)


CurrentActor = Annotated[Actor, Depends(current_actor)]


async def local_tz(request: Request) -> ZoneInfo:
    """The centre's time zone (settings ``timezone``)."""
    return ZoneInfo(request.app.state.settings.timezone)


LocalTz = Annotated[ZoneInfo, Depends(local_tz)]
