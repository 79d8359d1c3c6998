"""Login with a directory (LDAP) account: the user is found and checked in the operator's
directory, their groups give role, branch and team (the mapping file, first match wins), and a
local mirror of the account (``auth_source`` 'ldap') is created on the first login and updated
at each one (docs/ldap.md).

:class:`LdapLogin` is the :class:`~weiwan.ops.org.service.DirectoryCheck` that
:func:`~weiwan.ops.org.service.authenticate` calls, after its throttle, for a name that is no
local account. The answers, audits and counts are those of a local login: a wrong password
counts towards the mirror's lock-out and the throttle; disabled in the directory, in no mapped
group, or gone from the directory is refused and the mirror deactivated with its sessions
ended. A directory that cannot be asked raises :class:`DirectoryUnavailableError` (audited as
``directory_unreachable``, not counted as a wrong password).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog
from ldap3 import Connection
from ldap3.core.exceptions import LDAPInvalidDnError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from weiwan.core.errors import ConflictError
from weiwan.core.settings import Settings
from weiwan.ops.org.directory_config import DirectoryConfig, GroupRule, dn_key, load_directory
from weiwan.ops.org.ldap_directory import (
    DirectoryUnavailableError,
    DirectoryUser,
    find_users,
    groups_of,
    is_disabled,
    password_is_right,
    service_connection,
)
from weiwan.ops.org.models import AUTH_LDAP, Branch, Team, User
from weiwan.ops.org.service import (
    count_wrong_password,
    is_locked,
    login_failed,
    login_succeeded,
)
from weiwan.ops.org.sessions import EndReason, end_user_sessions
from weiwan.ops.org.throttle import LoginPolicy

log = structlog.get_logger(__name__)

#: the password hash of a directory account's mirror: no argon2 hash, so never a local login
UNUSABLE_PASSWORD = "!directory-account"
#: the longest user name and display name a mirror holds (the columns' widths)
MAX_USERNAME = 64
MAX_DISPLAY_NAME = 100

__all__ = [
    "UNUSABLE_PASSWORD",
    "DirectoryUnavailableError",
    "LdapLogin",
    "deactivate_refused",
    "directory_login",
    "look_up",
    "matching_rule",
    "placement_of",
]


class DirectoryLoginConflictError(ConflictError):
    """The directory's user name was taken by a local account while the login ran."""

    def __init__(self, username: str) -> None:
        super().__init__(f"user name {username!r} was taken by a local account meanwhile")


def matching_rule(rules: tuple[GroupRule, ...], groups: tuple[str, ...]) -> GroupRule | None:
    """The first rule whose group is among ``groups`` (DNs compared case-insensitively)."""
    keys = set()
    for group in groups:
        try:
            keys.add(dn_key(group))
        except LDAPInvalidDnError:
            continue
    return next((rule for rule in rules if rule.key in keys), None)


@dataclass(frozen=True, slots=True)
class _Placement:
    """Where a rule puts the user: role, branch id and team id."""

    role: str
    branch_id: int
    team_id: int | None


def placement_of(session: Session, rule: GroupRule) -> _Placement | None:
    """The rule's branch (by code) and team (by name in that branch); ``None`` when either
    does not exist here."""
    branch_id = session.scalar(select(Branch.id).where(Branch.code == rule.branch))
    if branch_id is None:
        return None
    team_id = None
    if rule.team is not None:
        team_id = session.scalar(
            select(Team.id).where(Team.branch_id == branch_id, Team.name == rule.team)
        )
        if team_id is None:
            return None
    return _Placement(rule.role.value, branch_id, team_id)


@dataclass(frozen=True, slots=True)
class DirectoryAnswer:
    """What the directory says about one name (``found``: entries of the name); the password
    is only tried by a login."""

    entry: DirectoryUser | None
    found: int = 1
    disabled: bool = False
    password_right: bool = False
    groups: tuple[str, ...] = ()


def look_up(conn: Connection, config: DirectoryConfig, username: str) -> DirectoryAnswer:
    """Find the user by ``username``, then (service account) whether they are disabled and
    their groups: what a login and the directory check ask before anything else."""
    found = find_users(conn, config, username)
    if len(found) != 1:
        return DirectoryAnswer(None, found=len(found))
    entry = found[0]
    if is_disabled(conn, config, entry.dn):
        return DirectoryAnswer(entry, disabled=True)
    return DirectoryAnswer(entry, groups=groups_of(conn, config, entry))


class LdapLogin:
    """Checks logins against the directory of ``config`` (see the module's text)."""

    def __init__(self, config: DirectoryConfig) -> None:
        self.config = config

    def _ask(self, username: str, password: str) -> DirectoryAnswer:
        """Look the user up, then try their password; the password is not tried on a
        disabled account (the directory's own lock-out)."""
        with service_connection(self.config) as conn:
            answer = look_up(conn, self.config, username)
        if answer.entry is None or answer.disabled:
            return answer
        right = password_is_right(self.config, answer.entry.dn, password)
        return replace(answer, password_right=right)

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
    ) -> User | None:
        """The mirror of the directory account if the directory accepts the login, else
        ``None`` (audited and counted like a local login)."""
        if mirror is not None and is_locked(mirror, now):
            login_failed(session, mirror, username, "locked", ip, now)
            return None
        try:
            answer = self._ask(username, password)
        except DirectoryUnavailableError as exc:
            log.warning("ldap.unreachable", problem=exc.problem, url=self.config.url)
            login_failed(session, mirror, username, "directory_unreachable", ip, now, count=False)
            raise
        if answer.entry is None:
            _not_found(session, mirror, username, answer.found, ip, now)
            return None
        mirror, refusal = _mirror_named(session, mirror, answer.entry.username, now)
        if refusal is not None:
            login_failed(session, mirror, username, refusal, ip, now)
            return None
        if answer.disabled:
            _refuse(session, mirror, username, "directory_disabled", ip, now)
            return None
        if not answer.password_right:
            if mirror is None:
                login_failed(session, None, username, "bad_password", ip, now)
            else:
                count_wrong_password(session, mirror, username, ip, now, policy)
            return None
        return self._accept(session, mirror, answer.entry, answer.groups, username, ip, now)

    def _accept(
        self,
        session: Session,
        mirror: User | None,
        entry: DirectoryUser,
        groups: tuple[str, ...],
        username: str,
        ip: str | None,
        now: datetime,
    ) -> User | None:
        """After the right password: the first matching group places the user; the mirror
        is created or updated and the login recorded. Refused in no mapped group, when the
        rule's branch or team does not exist, or when an administrator deactivated it."""
        rule = matching_rule(self.config.rules, groups)
        if rule is None:
            _refuse(session, mirror, username, "directory_refused", ip, now)
            return None
        placement = placement_of(session, rule)
        if placement is None:
            log.error("ldap.mapping_target_missing", group=rule.group, branch=rule.branch)
            detail = {"rule": rule.group}
            login_failed(session, mirror, username, "directory_mapping", ip, now, detail)
            return None
        if mirror is not None and not mirror.active and not mirror.directory_refused:
            login_failed(session, mirror, username, "inactive", ip, now)  # an admin's choice
            return None
        user, detail = _mirror(session, mirror, entry, placement)
        if not login_succeeded(session, user, username, ip, now, detail):
            return None
        return user


def _not_found(
    session: Session,
    mirror: User | None,
    username: str,
    found: int,
    ip: str | None,
    now: datetime,
) -> None:
    """The name found no one (or several): refused; a mirror whose entry is gone from the
    directory (the person has left) is deactivated."""
    if found > 1:  # the user filter is too wide: nobody can be told apart
        log.error("ldap.ambiguous_user", found=found)
        login_failed(session, mirror, username, "directory_ambiguous", ip, now)
    elif mirror is not None:
        _refuse(session, mirror, username, "directory_gone", ip, now)
    else:
        login_failed(session, None, username, "unknown_user", ip, now)


def _mirror_named(
    session: Session, mirror: User | None, canonical: str, now: datetime
) -> tuple[User | None, str | None]:
    """The mirror of the directory's name ``canonical`` (the one given when it is that
    name), and the reason to refuse at once, if any: the name of a local account (another
    spelling of it reached the directory; a local account is never taken over), a name too
    long for a user, or a locked mirror."""
    if mirror is not None and mirror.username == canonical:
        return mirror, None
    if len(canonical) > MAX_USERNAME:
        return None, "directory_name_too_long"
    found = session.scalar(select(User).where(User.username == canonical))
    if found is not None and found.auth_source != AUTH_LDAP:
        return None, "directory_local_name"
    if found is not None and is_locked(found, now):
        return found, "locked"
    return found, None


def directory_login(settings: Settings) -> LdapLogin | None:
    """The directory login the settings describe, or ``None`` without ``ldap_url``; a
    problem in the settings or the mapping file raises ``ConfigError`` naming it."""
    config = load_directory(settings)
    return None if config is None else LdapLogin(config)


def _refuse(
    session: Session,
    mirror: User | None,
    username: str,
    reason: str,
    ip: str | None,
    now: datetime,
) -> None:
    """Refuse the login (audited, counted); an active mirror is deactivated, marked as refused
    by the directory, and its sessions end."""
    detail = None
    if mirror is not None and mirror.active:
        detail = {"deactivated": True, "sessions_ended": deactivate_refused(session, mirror, now)}
    login_failed(session, mirror, username, reason, ip, now, detail)


def deactivate_refused(session: Session, mirror: User, now: datetime) -> int:
    """Deactivate ``mirror`` as refused by the directory (its next accepted login activates it
    again) and end its sessions; how many were open."""
    mirror.active = False
    mirror.directory_refused = True
    ended = end_user_sessions(session, mirror.id, EndReason.DEACTIVATED, now=now)
    session.flush()
    return ended


def _mirror(
    session: Session, mirror: User | None, entry: DirectoryUser, placement: _Placement
) -> tuple[User, dict[str, Any]]:
    """The local mirror of ``entry``, created or brought up to date; with the audit detail
    (source, and what was created or changed)."""
    values: dict[str, Any] = {
        "display_name": entry.display_name[:MAX_DISPLAY_NAME],
        "role": placement.role,
        "branch_id": placement.branch_id,
        "team_id": placement.team_id,
        "directory_dn": entry.dn[:512],
    }
    if mirror is None:
        created = _create_mirror(session, entry.username, values)
        if created is not None:
            return created, {"account_source": AUTH_LDAP, "created": True, "role": placement.role}
        # a parallel first login of the same person created it: update that one
        mirror = session.scalar(
            select(User).where(User.username == entry.username, User.auth_source == AUTH_LDAP)
        )
        if mirror is None:
            raise DirectoryLoginConflictError(entry.username)
    changed = {k: v for k, v in values.items() if getattr(mirror, k) != v}
    for name, value in changed.items():
        setattr(mirror, name, value)
    if not mirror.active:  # refused by the directory before, accepted now
        mirror.active = True
        changed["active"] = True
    mirror.directory_refused = False
    mirror.password_hash = UNUSABLE_PASSWORD
    session.flush()
    detail: dict[str, Any] = {"account_source": AUTH_LDAP}
    changed.pop("directory_dn", None)
    if changed:
        detail["changed"] = changed
    return mirror, detail


def _create_mirror(session: Session, username: str, values: dict[str, Any]) -> User | None:
    """A new mirror, or ``None`` when the name was taken meanwhile (a savepoint keeps the
    rest of the transaction)."""
    mirror = User(
        username=username,
        password_hash=UNUSABLE_PASSWORD,
        auth_source=AUTH_LDAP,
        active=True,
        directory_refused=False,
        failed_logins=0,
        **values,
    )
    try:
        with session.begin_nested():
            session.add(mirror)
            session.flush()
    except IntegrityError:  # the rolled-back savepoint took the pending mirror with it
        return None
    return mirror
