"""Users, password hashing, login with lock-out, audit log, masking and data scope."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import ColumnElement, case, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from weiwan.core.errors import ConflictError, WeiwanError
from weiwan.core.ttl_cache import TTLCache
from weiwan.ops.base import as_utc, utcnow
from weiwan.ops.org.client import client_address
from weiwan.ops.org.models import AUTH_LDAP, AuditEvent, Branch, Team, User
from weiwan.ops.org.roles import Role, Scope, permissions, scope_of
from weiwan.ops.org.schemas import UserCreate
from weiwan.ops.org.sessions import EndReason, end_user_sessions
from weiwan.ops.org.throttle import (
    LoginPolicy,
    LoginThrottledError,
    check_throttle,
    forget_failures,
    record_failure,
)

DEFAULT_POLICY = LoginPolicy()
MAX_FAILED_LOGINS = DEFAULT_POLICY.lockout_failures
LOCKOUT = DEFAULT_POLICY.lockout

#: argon2id with argon2-cffi's defaults (RFC 9106 "low memory": t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()


class AuditAction(StrEnum):
    """What an audit event records."""

    LOGIN_OK = "login_ok"
    LOGIN_FAILED = "login_failed"
    LOCKED = "locked"
    PII_VIEW = "pii_view"
    EXPORT = "export"
    APPROVAL = "approval"
    CONFIG_CHANGE = "config_change"
    LOOKUP_LIMIT = "lookup_limit"
    CONTACT_OVER_RULE = "contact_over_rule"
    STRATEGY_PROMOTE = "strategy_promote"
    SERVICE_TOKEN = "service_token"
    CONSENT = "consent"
    ERASURE = "erasure"
    PURGE = "purge"
    DIRECTORY_CHECK = "directory_check"


class OrgError(WeiwanError):
    """A user or branch request that cannot be carried out as asked."""


class DuplicateUsernameError(OrgError, ConflictError):
    """The username is already taken."""

    def __init__(self, username: str) -> None:
        self.username = username
        super().__init__(f"username {username!r} is already taken")


# --- passwords ---------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (salted, parameters encoded in the hash)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; a malformed hash never matches."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with parameters other than the current ones."""
    return _hasher.check_needs_rehash(password_hash)


@cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown users, so they cost the same work."""
    return _hasher.hash("weiwan-dummy-password-for-timing")


# --- users -------------------------------------------------------------------------------


def create_user(session: Session, data: UserCreate) -> User:
    """Create a user with a hashed password; raises :class:`OrgError` on bad references."""
    if session.scalar(select(User.id).where(User.username == data.username)) is not None:
        raise DuplicateUsernameError(data.username)
    if session.get(Branch, data.branch_id) is None:
        raise OrgError(f"branch {data.branch_id} does not exist")
    if data.team_id is not None:
        team = session.get(Team, data.team_id)
        if team is None or team.branch_id != data.branch_id:
            raise OrgError(f"team {data.team_id} is not a team of branch {data.branch_id}")
    user = User(
        username=data.username,
        display_name=data.display_name,
        password_hash=hash_password(data.password),
        role=data.role.value,
        branch_id=data.branch_id,
        team_id=data.team_id,
        active=True,
        failed_logins=0,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent insert of the same name
        if "username" in str(exc.orig):
            raise DuplicateUsernameError(data.username) from exc
        raise
    return user


class DirectoryCheck(Protocol):
    """Checks a login against the operator's directory (``directory_login.LdapLogin``):
    called by :func:`authenticate` for a name that is no local account, with the directory
    account's local mirror when there is one; answers like :func:`authenticate`."""

    def __call__(
        self,
        session: Session,
        mirror: User | None,
        username: str,
        password: str,
        *,
        now: datetime,
        ip: str | None,
        policy: LoginPolicy,
    ) -> User | None: ...


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    now: datetime | None = None,
    ip: str | None = None,
    policy: LoginPolicy = DEFAULT_POLICY,
    directory: DirectoryCheck | None = None,
) -> User | None:
    """The user if the password is right and the account usable, else ``None``.

    Every attempt is audited. The throttle comes first: too many failures for the user name or
    from the address within the window raise :class:`LoginThrottledError` (audited). After
    ``policy.lockout_failures`` consecutive wrong passwords the account is locked for
    ``policy.lockout`` and its sessions end; while locked even the right password fails. The
    counter is incremented and the lock set in one conditional ``UPDATE`` in the database, so
    parallel guesses count one by one (a read-increment-write in Python let 40 parallel
    guesses through). The counter resets only on a successful login, so one more failure after
    a lock has expired locks again. Unknown users cost the same hashing work and get the same
    answer as a wrong password.

    With ``directory`` (LDAP configured), a name that is not a local account (unknown here, or
    the mirror of a directory account) is checked by ``directory`` instead, under the same
    throttle; local accounts are checked here whether or not the directory answers.
    """
    now = as_utc(now or utcnow())
    try:
        check_throttle(session, username, ip, now=now, policy=policy)
    except LoginThrottledError as exc:
        audit(
            session,
            None,
            AuditAction.LOGIN_FAILED,
            "user",
            None,
            {"username": username[:64], "reason": "throttled", "by": exc.by},
            ip,
        )
        raise
    user = session.scalar(select(User).where(User.username == username))
    if user is None or user.auth_source == AUTH_LDAP:
        if directory is not None:
            return directory(session, user, username, password, now=now, ip=ip, policy=policy)
        if user is not None:  # a directory account while directory login is off
            login_failed(session, user, username, "directory_off", ip, now)
            return None
    if user is None:
        verify_password(_dummy_hash(), password)
        login_failed(session, None, username, "unknown_user", ip, now)
        return None
    if is_locked(user, now):
        verify_password(_dummy_hash(), password)
        login_failed(session, user, username, "locked", ip, now)
        return None
    ok = verify_password(user.password_hash, password)
    if ok and user.active:
        if not login_succeeded(session, user, username, ip, now):
            return None
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        return user
    if ok:
        login_failed(session, user, username, "inactive", ip, now)
        return None
    count_wrong_password(session, user, username, ip, now, policy)
    return None


def login_succeeded(
    session: Session,
    user: User,
    username: str,
    ip: str | None,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> bool:
    """After the right password: clear the failure counter and the name's throttle failures,
    note the login and audit it (with ``detail``). ``False`` (audited as ``locked``) when a
    parallel guess locked the account meanwhile."""
    # clear the counter only if no parallel guess locked the account meanwhile
    cleared = session.execute(
        update(User)
        .where(User.id == user.id, _not_locked(now))
        .values(failed_logins=0, locked_until=None, last_login_at=now)
        .execution_options(synchronize_session=False)
    )
    if not getattr(cleared, "rowcount", 0):
        login_failed(session, user, username, "locked", ip, now)
        return False
    session.expire(user, ["failed_logins", "locked_until", "last_login_at"])
    forget_failures(session, username)
    audit(session, user, AuditAction.LOGIN_OK, "user", str(user.id), detail, ip)
    return True


def count_wrong_password(
    session: Session,
    user: User,
    username: str,
    ip: str | None,
    now: datetime,
    policy: LoginPolicy,
) -> None:
    """A wrong password for ``user``: audited and counted (throttle and the account's
    counter); the account is locked, and its sessions end, at ``policy.lockout_failures``."""
    counted = session.execute(
        update(User)
        .where(User.id == user.id, _not_locked(now))
        .values(
            failed_logins=User.failed_logins + 1,
            locked_until=case(
                (User.failed_logins + 1 >= policy.lockout_failures, now + policy.lockout),
                else_=User.locked_until,
            ),
        )
        .returning(User.failed_logins, User.locked_until)
        .execution_options(synchronize_session=False)
    ).first()
    session.expire(user, ["failed_logins", "locked_until"])
    if counted is None:  # a parallel guess locked the account after we read it
        login_failed(session, user, username, "locked", ip, now)
        return
    login_failed(session, user, username, "bad_password", ip, now)
    failures, locked_until = counted
    if locked_until is not None and failures >= policy.lockout_failures:
        end_user_sessions(session, user.id, EndReason.LOCKED, now=now)
        audit(
            session,
            user,
            AuditAction.LOCKED,
            "user",
            str(user.id),
            {"failed_logins": failures, "locked_until": as_utc(locked_until).isoformat()},
            ip,
        )
    session.flush()


def _not_locked(now: datetime) -> ColumnElement[bool]:
    return or_(User.locked_until.is_(None), User.locked_until <= now)


def is_locked(user: User, now: datetime) -> bool:
    """Whether ``user`` is locked out at ``now``."""
    return user.locked_until is not None and now < as_utc(user.locked_until)


def login_failed(
    session: Session,
    user: User | None,
    username: str,
    reason: str,
    ip: str | None,
    now: datetime,
    detail: dict[str, Any] | None = None,
    *,
    count: bool = True,
) -> None:
    """Audit one failed login (``reason`` and ``detail``) and, unless ``count`` is false,
    count it for the throttle."""
    recorded: dict[str, Any] = {**(detail or {}), "reason": reason}
    if user is None:
        recorded["username"] = username[:64]
    audit(
        session,
        user,
        AuditAction.LOGIN_FAILED,
        "user",
        None if user is None else str(user.id),
        recorded,
        ip,
    )
    if count:
        record_failure(session, username, ip, now=now)


# --- audit -------------------------------------------------------------------------------


def audit(
    session: Session,
    user: User | int | None,
    action: AuditAction | str,
    target_type: str | None = None,
    target_id: str | None = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Record one audit event in ``session`` (committed with the caller's transaction);
    ``ip`` defaults to the address of the client being served (``org.client``)."""
    event = AuditEvent(
        at=utcnow(),
        user_id=user.id if isinstance(user, User) else user,
        action=AuditAction(action).value,
        target_type=target_type,
        target_id=target_id,
        detail=None if detail is None else json.dumps(detail, ensure_ascii=False, sort_keys=True),
        ip=ip if ip is not None else client_address(),
    )
    session.add(event)
    session.flush()
    return event


# --- masking -----------------------------------------------------------------------------


def _mask(value: str, keep_head: int, keep_tail: int) -> str:
    if len(value) <= keep_head + keep_tail:
        return "*" * max(len(value) - 2, 0) + value[-2:] if len(value) > 2 else "*" * len(value)
    return value[:keep_head] + "*" * (len(value) - keep_head - keep_tail) + value[-keep_tail:]


def mask_phone(phone: str, role: Role | str) -> str:
    """``13812345678`` → ``138****5678`` unless ``role`` may see full numbers."""
    if permissions(role).may_see_full_numbers:
        return phone
    return _mask(phone.strip(), 3, 4)


def mask_id_number(id_number: str, role: Role | str) -> str:
    """A resident ID keeps its first 6 (region) and last 4 characters unless ``role`` may see it."""
    if permissions(role).may_see_full_id_numbers:
        return id_number
    return _mask(id_number.strip(), 6, 4)


# --- data scope --------------------------------------------------------------------------


#: seconds a process keeps the branch tree (branches change a few times a year; a new branch
#: is seen by every worker within this time)
BRANCH_TREE_SECONDS = 60.0
#: database URL → (sub-branches by parent id, all branch ids)
_branch_tree: TTLCache[str, tuple[dict[int, list[int]], frozenset[int]]] = TTLCache(
    BRANCH_TREE_SECONDS
)


def _tree(session: Session) -> tuple[dict[int, list[int]], frozenset[int]]:
    """Sub-branches by parent id and all branch ids, cached per database for
    ``BRANCH_TREE_SECONDS``: every request resolves the caller's branches, and reading the
    whole table each time showed in the screen-pop benchmark."""
    return _branch_tree.get_or_compute(
        str(session.get_bind().engine.url), lambda: _read_tree(session)
    )


def _read_tree(session: Session) -> tuple[dict[int, list[int]], frozenset[int]]:
    children: dict[int, list[int]] = {}
    every: set[int] = set()
    for bid, parent in session.execute(select(Branch.id, Branch.parent_id)):
        every.add(bid)
        if parent is not None:
            children.setdefault(parent, []).append(bid)
    return children, frozenset(every)


def forget_branch_tree() -> None:
    """Drop the cached branch tree (after a branch is added, and in tests)."""
    _branch_tree.clear()


def descendant_branch_ids(session: Session, branch_id: int) -> frozenset[int]:
    """``branch_id`` and every branch below it (city branch → rural sub-branches)."""
    children, _every = _tree(session)
    found = {branch_id}
    stack = [branch_id]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return frozenset(found)


def visible_branch_ids(session: Session, user: User) -> frozenset[int]:
    """Branches whose data ``user`` may see.

    All branches for roles with scope ALL (admin, director, analyst); the user's branch and its
    sub-branches for branch roles (centre head, store clerk, hotline agent: any caller of the
    branch may ring); the user's own branch for agents and shift leads (whose own/team filter
    applies on top).
    """
    scope = scope_of(user.role)
    if scope is Scope.ALL:
        return _tree(session)[1]
    if scope is Scope.BRANCH:
        return descendant_branch_ids(session, user.branch_id)
    return frozenset({user.branch_id})
