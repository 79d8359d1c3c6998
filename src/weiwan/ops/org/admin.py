"""Administration of users, branches and teams (configuration changes, all audited)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from weiwan.core.errors import ConflictError, InvalidRequestError, NotFoundError
from weiwan.ops.base import utcnow
from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import AUTH_LDAP, AuditEvent, Branch, Team, User
from weiwan.ops.org.roles import Role, Scope
from weiwan.ops.org.schemas import BranchCreate, TeamCreate, UserCreate, UserUpdate
from weiwan.ops.org.service import (
    AuditAction,
    audit,
    create_user,
    forget_branch_tree,
    hash_password,
)
from weiwan.ops.org.sessions import EndReason, end_user_sessions
from weiwan.ops.scope import user_scope_clause

AUDIT_READERS = (Role.ADMIN, Role.DIRECTOR)


def _admin_user(session: Session, actor: Actor) -> User:
    actor.require_configure()
    user = session.get(User, actor.user_id)
    assert user is not None
    return user


def _visible_users(actor: Actor) -> Select[User]:
    """Users the actor may see: everyone for admin/director/analyst, the branch for branch
    roles, the team for shift leads, only oneself for agents."""
    query = select(User)
    if actor.role is not Role.ADMIN and actor.scope is not Scope.ALL:
        query = query.where(user_scope_clause(actor, User.id))
    return query


def list_users(session: Session, actor: Actor) -> Sequence[User]:
    """Users the actor may see (see :func:`_visible_users`), by id."""
    return session.scalars(_visible_users(actor).order_by(User.id)).all()


def get_user(session: Session, actor: Actor, user_id: int) -> User:
    """One user within the actor's view (404 outside it)."""
    user = session.scalar(_visible_users(actor).where(User.id == user_id))
    if user is None:
        raise NotFoundError(f"user {user_id} not found")
    return user


def add_user(session: Session, actor: Actor, data: UserCreate) -> User:
    """Create a user (admin only); audited as a configuration change."""
    admin = _admin_user(session, actor)
    user = create_user(session, data)
    audit(
        session,
        admin,
        AuditAction.CONFIG_CHANGE,
        "user",
        str(user.id),
        {"created": data.username, "role": data.role.value, "branch_id": data.branch_id},
    )
    return user


def update_user(session: Session, actor: Actor, user_id: int, data: UserUpdate) -> User:
    """Change a user's role, branch, team, activity or password, or unlock them (admin only).

    A directory (LDAP) account's password is the directory's: setting one is refused. Its
    name, role, branch and team are set again from its groups at its next login."""
    admin = _admin_user(session, actor)
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"user {user_id} not found")
    if data.password is not None and user.auth_source == AUTH_LDAP:
        raise InvalidRequestError(
            "the account comes from the directory (LDAP): its password is set in the "
            "directory, not here",
            field="password",
        )
    changed: dict[str, object] = {}
    if data.branch_id is not None and session.get(Branch, data.branch_id) is None:
        raise InvalidRequestError(f"branch {data.branch_id} does not exist", field="branch_id")
    branch_id = data.branch_id if data.branch_id is not None else user.branch_id
    team_id = data.team_id if "team_id" in data.model_fields_set else user.team_id
    if team_id is not None:
        team = session.get(Team, team_id)
        if team is None or team.branch_id != branch_id:
            raise InvalidRequestError(
                f"team {team_id} is not a team of branch {branch_id}", field="team_id"
            )
    for name in ("display_name", "active"):
        value = getattr(data, name)
        if value is not None and value != getattr(user, name):
            setattr(user, name, value)
            changed[name] = value
    if "active" in changed:  # an administrator's decision: a directory login does not undo it
        user.directory_refused = False
    if data.role is not None and data.role.value != user.role:
        user.role = data.role.value
        changed["role"] = data.role.value
    if branch_id != user.branch_id:
        user.branch_id = branch_id
        changed["branch_id"] = branch_id
    if team_id != user.team_id:
        user.team_id = team_id
        changed["team_id"] = team_id
    if data.password is not None:
        user.password_hash = hash_password(data.password)
        changed["password"] = "reset"
        changed["sessions_ended"] = end_user_sessions(
            session, user.id, EndReason.PASSWORD, now=utcnow()
        )
    elif changed.get("active") is False:
        changed["sessions_ended"] = end_user_sessions(
            session, user.id, EndReason.DEACTIVATED, now=utcnow()
        )
    if data.unlock:
        user.failed_logins = 0
        user.locked_until = None
        changed["unlocked"] = True
    session.flush()
    audit(session, admin, AuditAction.CONFIG_CHANGE, "user", str(user.id), {"changed": changed})
    return user


def list_branches(session: Session) -> Sequence[Branch]:
    """Every branch (names are not personal data; any logged-in role may list them)."""
    return session.scalars(select(Branch).order_by(Branch.id)).all()


def add_branch(session: Session, actor: Actor, data: BranchCreate) -> Branch:
    """Create a branch or sub-branch (admin only)."""
    admin = _admin_user(session, actor)
    if session.scalar(select(Branch.id).where(Branch.code == data.code)) is not None:
        raise ConflictError(f"branch code {data.code!r} is already taken")
    if data.parent_id is not None and session.get(Branch, data.parent_id) is None:
        raise InvalidRequestError(f"branch {data.parent_id} does not exist", field="parent_id")
    branch = Branch(**data.model_dump())
    session.add(branch)
    session.flush()
    forget_branch_tree()
    audit(session, admin, AuditAction.CONFIG_CHANGE, "branch", str(branch.id), data.model_dump())
    return branch


def list_teams(session: Session) -> Sequence[Team]:
    """Every team."""
    return session.scalars(select(Team).order_by(Team.id)).all()


def add_team(session: Session, actor: Actor, data: TeamCreate) -> Team:
    """Create a team in a branch (admin only)."""
    admin = _admin_user(session, actor)
    if session.get(Branch, data.branch_id) is None:
        raise InvalidRequestError(f"branch {data.branch_id} does not exist", field="branch_id")
    if session.scalar(
        select(Team.id).where(Team.branch_id == data.branch_id, Team.name == data.name)
    ):
        raise ConflictError(f"branch {data.branch_id} already has a team {data.name!r}")
    team = Team(branch_id=data.branch_id, name=data.name)
    session.add(team)
    session.flush()
    audit(session, admin, AuditAction.CONFIG_CHANGE, "team", str(team.id), data.model_dump())
    return team


def list_audit(
    session: Session,
    actor: Actor,
    *,
    action: str | None = None,
    user_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[AuditEvent]:
    """Audit events, newest first (administrators and directors only)."""
    actor.require(*AUDIT_READERS)
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if user_id is not None:
        query = query.where(AuditEvent.user_id == user_id)
    return session.scalars(query.limit(limit).offset(offset)).all()


#: audit events read per query while filtering a period
AUDIT_BATCH = 1000


@dataclass(slots=True)
class AuditLog:
    """Audit events, newest first, and the username of every user id."""

    events: list[AuditEvent] = field(default_factory=list)
    usernames: dict[int, str] = field(default_factory=dict)


def audit_log(
    session: Session,
    actor: Actor,
    *,
    action: str | None = None,
    username: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 500,
) -> AuditLog:
    """Up to ``limit`` audit events, newest first, of ``action`` by the user ``username`` (an
    unknown name matches nothing) in ``[since, until)``, through :func:`list_audit` (which
    checks the role)."""
    actor.require(*AUDIT_READERS)
    user_id = None
    if username:
        user_id = session.scalar(select(User.id).where(User.username == username)) or -1
    found: list[AuditEvent] = []
    offset = 0
    while len(found) < limit:
        batch = list_audit(
            session, actor, action=action, user_id=user_id, limit=AUDIT_BATCH, offset=offset
        )
        stop = False
        for event in batch:
            if until is not None and event.at >= until:
                continue
            if since is not None and event.at < since:
                stop = True
                break
            found.append(event)
            if len(found) >= limit:
                break
        if stop or len(batch) < AUDIT_BATCH:
            break
        offset += AUDIT_BATCH
    names = dict(session.execute(select(User.id, User.username)).all())
    return AuditLog(events=found, usernames=names)
