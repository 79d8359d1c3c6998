"""Routes: login/logout/session, users, branches, teams, the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status

from weiwan.ops.deps import (
    CurrentActor,
    Db,
    client_ip,
    close_session,
    login_directory,
    login_policy,
    open_session,
    request_now,
)
from weiwan.ops.org import admin
from weiwan.ops.org.ldap_directory import DirectoryUnavailableError
from weiwan.ops.org.models import User
from weiwan.ops.org.schemas import (
    AuditOut,
    BranchCreate,
    BranchOut,
    LoginRequest,
    PermissionsOut,
    SessionOut,
    TeamCreate,
    TeamOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from weiwan.ops.org.service import AuditAction, authenticate
from weiwan.ops.org.sessions import CSRF_KEY
from weiwan.ops.org.throttle import LoginThrottledError
from weiwan.ops.types import MAX_ID, IdPath

router = APIRouter(tags=["organisation"])


def _session_out(user: User, actor_role: str, csrf: str) -> SessionOut:
    from weiwan.ops.org.roles import permissions

    perms = permissions(actor_role)
    return SessionOut(
        user=UserOut.model_validate(user),
        permissions=PermissionsOut(
            scope=perms.scope.value,
            may_see_full_numbers=perms.may_see_full_numbers,
            may_export=perms.may_export,
            may_approve=perms.may_approve,
            may_configure=perms.may_configure,
            may_see_full_id_numbers=perms.may_see_full_id_numbers,
        ),
        csrf_token=csrf,
    )


#: seconds a client waits before trying a directory login again after a 503
DIRECTORY_RETRY_AFTER = 30


@router.post("/auth/login", response_model=SessionOut, responses={401: {}, 429: {}, 503: {}})
def login(body: LoginRequest, request: Request, db: Db) -> SessionOut:
    """Log in; sets the session cookie and returns the CSRF token for unsafe requests.

    Too many failed logins for the user name or from the address answer 429 with
    ``Retry-After``. With directory (LDAP) login configured, a name that is not a local
    account is checked in the directory; when the directory cannot be reached that answers
    503 with ``Retry-After`` (local accounts still log in)."""
    try:
        user = authenticate(
            db,
            body.username,
            body.password,
            ip=client_ip(request),
            now=request_now(request),
            policy=login_policy(request),
            directory=login_directory(request),
        )
    except LoginThrottledError as exc:
        db.commit()  # keep the audit of the refused attempt
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            str(exc),
            headers={"Retry-After": str(exc.retry_after)},
        ) from exc
    except DirectoryUnavailableError as exc:
        db.commit()  # keep the audit of the attempt
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the directory (LDAP) is not reachable, so directory accounts cannot log in now; "
            "try again later (local accounts are not affected)",
            headers={"Retry-After": str(DIRECTORY_RETRY_AFTER)},
        ) from exc
    if user is None:
        db.commit()  # keep the failure count and the audit even though we answer 401
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    csrf = open_session(request, db, user)
    return _session_out(user, user.role, csrf)


@router.post("/auth/logout", status_code=204)
def logout(request: Request, actor: CurrentActor, db: Db) -> None:
    """End the session (its cookie no longer works, even replayed)."""
    close_session(request, db)


@router.get("/auth/me", response_model=SessionOut)
def me(request: Request, actor: CurrentActor, db: Db) -> SessionOut:
    """The logged-in user, permissions and CSRF token."""
    user = db.get(User, actor.user_id)
    assert user is not None
    return _session_out(user, actor.role.value, str(request.session.get(CSRF_KEY)))


@router.get("/users", response_model=list[UserOut])
def users(actor: CurrentActor, db: Db) -> list[User]:
    """Users within the caller's view."""
    return list(admin.list_users(db, actor))


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(body: UserCreate, actor: CurrentActor, db: Db) -> User:
    """Create a user (admin)."""
    return admin.add_user(db, actor, body)


@router.get("/users/{user_id}", response_model=UserOut)
def user(user_id: IdPath, actor: CurrentActor, db: Db) -> User:
    """One user within the caller's view."""
    return admin.get_user(db, actor, user_id)


@router.patch("/users/{user_id}", response_model=UserOut)
def update_user(user_id: IdPath, body: UserUpdate, actor: CurrentActor, db: Db) -> User:
    """Change a user (admin)."""
    return admin.update_user(db, actor, user_id, body)


@router.get("/branches", response_model=list[BranchOut])
def branches(actor: CurrentActor, db: Db) -> list[object]:
    """All branches."""
    return list(admin.list_branches(db))


@router.post("/branches", response_model=BranchOut, status_code=201)
def create_branch(body: BranchCreate, actor: CurrentActor, db: Db) -> object:
    """Create a branch (admin)."""
    return admin.add_branch(db, actor, body)


@router.get("/teams", response_model=list[TeamOut])
def teams(actor: CurrentActor, db: Db) -> list[object]:
    """All teams."""
    return list(admin.list_teams(db))


@router.post("/teams", response_model=TeamOut, status_code=201)
def create_team(body: TeamCreate, actor: CurrentActor, db: Db) -> object:
    """Create a team (admin)."""
    return admin.add_team(db, actor, body)


@router.get("/audit", response_model=list[AuditOut])
def audit_log(
    actor: CurrentActor,
    db: Db,
    action: Annotated[AuditAction | None, Query()] = None,
    user_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[object]:
    """The audit log, newest first (admin, director)."""
    return list(
        admin.list_audit(
            db,
            actor,
            action=action.value if action else None,
            user_id=user_id,
            limit=limit,
            offset=offset,
        )
    )
