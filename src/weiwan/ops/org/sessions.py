"""Server-side sessions and CSRF tokens.

The session cookie (Starlette's signed cookie) carries a random session token, the user id
(a hint only) and the CSRF token; the ``user_sessions`` table holds the token's SHA-256 with
the user, the times and the client. Every request looks the record up by primary key
(:func:`live_session`), so logout, a password change, lock-out or deactivation end a session
at once, and a session lives at most ``absolute`` from login and ``idle`` from its last use
(docs/decisions/0007-sessions-and-login-throttle.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from weiwan.ops.org.models import User, UserSession

CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
#: the session's token, its user id and its CSRF token in the signed cookie
SESSION_KEY = "sid"
USER_KEY = "uid"
CSRF_KEY = "csrf"
#: last use is written at most this often per session (one UPDATE a minute, not one a request)
TOUCH_EVERY = timedelta(seconds=60)


class EndReason:
    """Why a session ended (``user_sessions.end_reason``)."""

    LOGOUT = "logout"
    PASSWORD = "password_changed"
    LOCKED = "locked"
    DEACTIVATED = "deactivated"
    IDLE = "idle"
    EXPIRED = "expired"


def new_csrf_token() -> str:
    """A fresh random token for one session."""
    return secrets.token_urlsafe(32)


def tokens_match(expected: object, given: object) -> bool:
    """Constant-time comparison of two tokens as UTF-8 bytes; a missing token, a non-string
    or a non-ASCII one never matches (``hmac.compare_digest`` refuses non-ASCII ``str``)."""
    if not isinstance(expected, str) or not isinstance(given, str) or not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def token_digest(token: str) -> str:
    """The stored form of a session token: its SHA-256 in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(
    db: Session,
    user: User,
    *,
    now: datetime,
    absolute: timedelta,
    ip: str | None,
    user_agent: str | None,
) -> str:
    """Record a new session of ``user``; returns its token (for the cookie only)."""
    token = secrets.token_urlsafe(32)
    db.add(
        UserSession(
            id=token_digest(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + absolute,
            ip=ip,
            user_agent=(user_agent or "")[:255] or None,
        )
    )
    db.flush()
    return token


def end_session(db: Session, token: str, reason: str, *, now: datetime) -> None:
    """End the session of ``token`` (if still open)."""
    db.execute(
        update(UserSession)
        .where(UserSession.id == token_digest(token), UserSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
        .execution_options(synchronize_session=False)
    )


def end_user_sessions(db: Session, user_id: int, reason: str, *, now: datetime) -> int:
    """End every open session of the user; returns how many were open."""
    result = db.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class Lifetimes:
    """How long a session may live: since its last use and since login."""

    idle: timedelta
    absolute: timedelta


def live_session(db: Session, token: str, *, now: datetime, lifetimes: Lifetimes) -> User | None:
    """The user of the open session ``token``, or ``None``.

    One primary-key lookup joined to the user (the screen-pop's budget allows no more). A
    session past its idle or absolute lifetime is ended here; an open one's last use is
    written at most every :data:`TOUCH_EVERY`. The user must be active and not locked.
    """
    digest = token_digest(token)
    row = db.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.id == digest)
    ).first()
    if row is None:
        return None
    record, user = row
    if record.ended_at is not None:
        return None
    reason = None
    if now >= record.expires_at:
        reason = EndReason.EXPIRED
    elif now >= record.last_seen_at + lifetimes.idle:
        reason = EndReason.IDLE
    if reason is not None:
        end_session(db, token, reason, now=now)
        return None
    if not user.active or (user.locked_until is not None and now < user.locked_until):
        return None
    if now - record.last_seen_at >= TOUCH_EVERY:
        _touch(db, digest, now)
    return user


def _touch(db: Session, digest: str, now: datetime) -> None:
    """Write the session's last use in a short transaction of its own: in the request's, the
    write would take SQLite's database lock at the start of the request and hold it until the
    request's end (a long rehearsal would block every other writer)."""
    with Session(bind=db.get_bind()) as own:
        own.execute(
            update(UserSession)
            .where(UserSession.id == digest, UserSession.last_seen_at < now)
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
        own.commit()
