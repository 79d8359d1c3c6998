"""FastAPI dependencies of every ops route: DB session, logged-in actor, CSRF check."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from weiwan.ops.org.access import Actor, actor_for
from weiwan.ops.org.models import User
from weiwan.ops.org.sessions import CSRF_FIELD, CSRF_HEADER, password_fingerprint, tokens_match

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


async def check_csrf(request: Request) -> None:
    """Unsafe methods need the session's CSRF token in the header (API) or form field."""
    if request.method in SAFE_METHODS:
        return
    if "uid" not in request.session:  # not logged in is 401 whatever the method
        raise _unauthorised()
    expected = request.session.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not tokens_match(expected, given):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")


def resolve_actor(request: Request, db: Session) -> Actor:
    """The session's logged-in, active user as an :class:`Actor`; 401 otherwise (and the
    session is cleared when its user is gone, inactive or has a new password)."""
    user_id = request.session.get("uid")
    if not isinstance(user_id, int):
        raise _unauthorised()
    user = db.get(User, user_id)
    if (
        user is None
        or not user.active
        or request.session.get("pwd") != password_fingerprint(user.password_hash)
    ):
        request.session.clear()
        raise _unauthorised()
    actor = actor_for(db, user)
    request.state.actor = actor
    return actor


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
