"""The login policy: lock-out numbers and the throttle per user name and client address.

Failed logins are rows of ``login_failures`` and are counted in the database, so the limits
hold across every server process (and every worker of each); see
docs/decisions/0007-sessions-and-login-throttle.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from weiwan.core.errors import WeiwanError
from weiwan.core.settings import Settings
from weiwan.ops.org.models import LoginFailure

#: failures older than this are deleted (the throttle's window is minutes)
KEEP_FAILURES = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """Lock-out after ``lockout_failures`` consecutive wrong passwords for ``lockout``;
    429 after ``per_user`` failures for one user name or ``per_ip`` from one address within
    ``window``."""

    lockout_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    window: timedelta = timedelta(minutes=15)
    per_user: int = 10
    per_ip: int = 30

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginPolicy:
        """The policy the settings name."""
        return cls(
            lockout_failures=settings.login_lockout_failures,
            lockout=timedelta(minutes=settings.login_lockout_minutes),
            window=timedelta(minutes=settings.login_throttle_minutes),
            per_user=settings.login_throttle_per_user,
            per_ip=settings.login_throttle_per_ip,
        )


class LoginThrottledError(WeiwanError):
    """Too many failed logins for this user name or from this address; retry later."""

    def __init__(self, retry_after: int, by: str) -> None:
        self.retry_after = retry_after
        self.by = by
        super().__init__(f"too many failed logins; try again in {retry_after} s")


def _retry_after(oldest: datetime, window: timedelta, now: datetime) -> int:
    return max(1, math.ceil((oldest + window - now).total_seconds()))


def check_throttle(
    session: Session, username: str, ip: str | None, *, now: datetime, policy: LoginPolicy
) -> None:
    """Raise :class:`LoginThrottledError` when the user name or the address has used up its
    failed logins in the window (two indexed counts)."""
    since = now - policy.window
    checks: list[tuple[str, ColumnElement[bool], int]] = [
        ("user", LoginFailure.username == username[:64], policy.per_user)
    ]
    if ip is not None:
        checks.append(("ip", LoginFailure.ip == ip, policy.per_ip))
    for by, clause, limit in checks:
        count, oldest = session.execute(
            select(func.count(), func.min(LoginFailure.at)).where(clause, LoginFailure.at > since)
        ).one()
        if count >= limit and oldest is not None:
            raise LoginThrottledError(_retry_after(oldest, policy.window, now), by)


def record_failure(session: Session, username: str, ip: str | None, *, now: datetime) -> None:
    """Count one failed login (and prune failures older than :data:`KEEP_FAILURES`)."""
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - KEEP_FAILURES))
    session.add(LoginFailure(at=now, username=username[:64], ip=ip))
    session.flush()


def forget_failures(session: Session, username: str) -> None:
    """A successful login clears the user name's failures (not the address's)."""
    session.execute(delete(LoginFailure).where(LoginFailure.username == username[:64]))
