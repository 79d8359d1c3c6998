"""Administration pages: users, branches (city branch → rural sub-branch) and teams, and the
audit log.

The administrator creates and changes users, branches and teams (``ops.org.admin``, audited);
directors and centre heads read the users and branches of their scope. The audit log is for
administrators and directors (``/admin/audit`` in ``admin_audit``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from weiwan.core.errors import ConflictError, InvalidRequestError
from weiwan.ops.org import admin
from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import Branch, Team, User
from weiwan.ops.org.roles import Role
from weiwan.ops.org.schemas import BranchCreate, TeamCreate, UserCreate, UserUpdate
from weiwan.ops.types import IdPath
from weiwan.web.i18n import current_language
from weiwan.web.i18n import gettext as _
from weiwan.web.labels import ROLES, label
from weiwan.web.pages.admin_audit import router as audit_router
from weiwan.web.pages.admin_runs import router as runs_router
from weiwan.web.pages.deps import Db, LocalTz, PageActor, export_tables
from weiwan.web.tables import Column, Table, wants_export
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)
router.include_router(audit_router)
router.include_router(runs_router)

#: roles that see the users page (the administrator edits; the others read their scope)
USER_READERS = (Role.ADMIN, Role.DIRECTOR, Role.CENTRE_HEAD)
Text = Annotated[str, Form(max_length=256)]
OptionalText = Annotated[str, Form(max_length=256)]


def branch_name(branch: Branch | None) -> str:
    """A branch in the reader's language."""
    if branch is None:
        return "—"
    return branch.name_zh if current_language() == "zh-CN" else branch.name_en


def _visible_branches(db: Any, actor: Actor) -> list[Branch]:
    return [b for b in admin.list_branches(db) if b.id in actor.branch_ids]


def branch_tree(branches: Sequence[Branch]) -> list[tuple[Branch, list[Branch]]]:
    """City branches with their rural sub-branches; a sub-branch whose city branch is not in
    ``branches`` is listed at the top level."""
    ids = {b.id for b in branches}
    tops = [b for b in branches if b.parent_id is None or b.parent_id not in ids]
    return [(top, [b for b in branches if b.parent_id == top.id]) for top in tops]


def users_table(
    users: Sequence[User], branches: dict[int, Branch], teams: dict[int, Team]
) -> Table:
    """The users as a table (no password data)."""
    rows = [
        {
            "username": u.username,
            "id": u.id,
            "display_name": u.display_name,
            "role": label(ROLES, u.role),
            "branch": branch_name(branches.get(u.branch_id)),
            "team": teams[u.team_id].name if u.team_id in teams else "—",
            "active": _("yes") if u.active else _("no"),
            "locked": _("yes") if u.locked_until else _("no"),
            "last_login_at": u.last_login_at,
        }
        for u in users
    ]
    columns = [
        Column("username", _("Username"), "link", href=lambda row: f"/admin/users/{row['id']}"),
        Column("display_name", _("Name")),
        Column("role", _("Role")),
        Column("branch", _("Branch")),
        Column("team", _("Team")),
        Column("active", _("Active")),
        Column("locked", _("Locked")),
        Column("last_login_at", _("Last login"), "datetime"),
    ]
    return Table("users", columns, rows, title=_("Users"), empty=_("No users."))


def teams_table(teams: Sequence[Team], branches: dict[int, Branch]) -> Table:
    """Teams with their branch."""
    rows = [{"name": t.name, "branch": branch_name(branches.get(t.branch_id))} for t in teams]
    columns = [Column("name", _("Team")), Column("branch", _("Branch"))]
    return Table("teams", columns, rows, title=_("Teams"), empty=_("No teams."))


def _users_page(
    request: Request, actor: Actor, db: Any, tz: Any, *, status_code: int = 200, **extra: Any
) -> Response:
    actor.require(*USER_READERS)
    branches = _visible_branches(db, actor)
    by_id = {b.id: b for b in admin.list_branches(db)}
    teams = [t for t in admin.list_teams(db) if t.branch_id in actor.branch_ids]
    tables = [
        users_table(admin.list_users(db, actor), by_id, {t.id: t for t in admin.list_teams(db)}),
        teams_table(teams, by_id),
    ]
    if wants_export(request):
        return export_tables(request, actor, db, tables, "users", tz)
    context = {
        "tables": tables,
        "tree": branch_tree(branches),
        "branches": branches,
        "teams": teams,
        "roles": [(r.value, label(ROLES, r.value)) for r in Role],
        "may_configure": actor.permissions.may_configure,
        "branch_name": branch_name,
        # a new user starts as an agent, the most common and least privileged working role:
        # never preselected as an administrator
        "form": {"role": Role.AGENT.value},
        **extra,
    }
    if request.query_params.get("saved"):
        context.setdefault("flash", _("Saved."))
    return render(request, "admin/users.html", context, status_code=status_code)


@router.get("/admin/users", response_class=HTMLResponse)
def users(request: Request, actor: PageActor, db: Db, tz: LocalTz) -> Response:
    """Users of the actor's scope, the branch tree and the teams; forms for the
    administrator."""
    return _users_page(request, actor, db, tz)


def _problem(exc: ValidationError | InvalidRequestError | ConflictError) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(exc)


def _id_or_none(value: str) -> int | None:
    return int(value) if value.strip().isdigit() else None


@router.post("/admin/users", response_class=HTMLResponse)
def create_user(
    request: Request,
    actor: PageActor,
    db: Db,
    tz: LocalTz,
    username: Text,
    display_name: Text,
    password: Text,
    role: Text,
    branch_id: Text,
    team_id: OptionalText = "",
) -> Response:
    """Create a user (administrator); a refused form is shown again with the reason."""
    actor.require_configure()
    form = {
        "username": username,
        "display_name": display_name,
        "role": role,
        "branch_id": branch_id,
        "team_id": team_id,
    }
    try:
        data = UserCreate(
            username=username,
            display_name=display_name,
            password=password,
            role=role,
            branch_id=_id_or_none(branch_id),
            team_id=_id_or_none(team_id),
        )
        user = admin.add_user(db, actor, data)
    except (ValidationError, InvalidRequestError, ConflictError) as exc:
        db.rollback()
        return _users_page(request, actor, db, tz, status_code=422, error=_problem(exc), form=form)
    return RedirectResponse(f"/admin/users/{user.id}?saved=1", status_code=303)


@router.post("/admin/branches", response_class=HTMLResponse)
def create_branch(
    request: Request,
    actor: PageActor,
    db: Db,
    tz: LocalTz,
    code: Text,
    name_zh: Text,
    name_en: Text,
    parent_id: OptionalText = "",
) -> Response:
    """Create a city branch, or a rural sub-branch under one (administrator)."""
    actor.require_configure()
    try:
        data = BranchCreate(
            code=code, name_zh=name_zh, name_en=name_en, parent_id=_id_or_none(parent_id)
        )
        admin.add_branch(db, actor, data)
    except (ValidationError, InvalidRequestError, ConflictError) as exc:
        db.rollback()
        return _users_page(request, actor, db, tz, status_code=422, branch_error=_problem(exc))
    return RedirectResponse("/admin/users?saved=1#branches", status_code=303)


@router.post("/admin/teams", response_class=HTMLResponse)
def create_team(
    request: Request, actor: PageActor, db: Db, tz: LocalTz, branch_id: Text, name: Text
) -> Response:
    """Create a team in a branch (administrator)."""
    actor.require_configure()
    try:
        data = TeamCreate(branch_id=_id_or_none(branch_id), name=name)
        admin.add_team(db, actor, data)
    except (ValidationError, InvalidRequestError, ConflictError) as exc:
        db.rollback()
        return _users_page(request, actor, db, tz, status_code=422, team_error=_problem(exc))
    return RedirectResponse("/admin/users?saved=1#teams", status_code=303)


def _user_page(
    request: Request, actor: Actor, db: Any, user_id: int, *, status_code: int = 200, **extra: Any
) -> Response:
    actor.require(*USER_READERS)
    user = admin.get_user(db, actor, user_id)
    branches = {b.id: b for b in admin.list_branches(db)}
    context = {
        "user": user,
        "branch": branch_name(branches.get(user.branch_id)),
        "team": next((t.name for t in admin.list_teams(db) if t.id == user.team_id), None),
        "branches": list(branches.values()),
        "teams": admin.list_teams(db),
        "roles": [(r.value, label(ROLES, r.value)) for r in Role],
        "may_configure": actor.permissions.may_configure,
        "branch_name": branch_name,
        **extra,
    }
    if request.query_params.get("saved"):
        context.setdefault("flash", _("Saved."))
    return render(request, "admin/user.html", context, status_code=status_code)


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
def user(request: Request, actor: PageActor, db: Db, user_id: IdPath) -> Response:
    """One user of the actor's scope (404 outside it); the edit form for the administrator."""
    return _user_page(request, actor, db, user_id)


@router.post("/admin/users/{user_id}", response_class=HTMLResponse)
def update_user(
    request: Request,
    actor: PageActor,
    db: Db,
    user_id: IdPath,
    display_name: Text,
    role: Text,
    branch_id: Text,
    team_id: OptionalText = "",
    active: OptionalText = "",
    password: OptionalText = "",
    unlock: OptionalText = "",
) -> Response:
    """Change a user: name, role, branch, team, active (deactivate), password, unlock."""
    actor.require_configure()
    fields: dict[str, Any] = {
        "display_name": display_name,
        "role": role,
        "branch_id": _id_or_none(branch_id),
        "team_id": _id_or_none(team_id),
        "active": active == "1",
        "unlock": unlock == "1",
    }
    if password:
        fields["password"] = password
    try:
        admin.update_user(db, actor, user_id, UserUpdate(**fields))
    except (ValidationError, InvalidRequestError, ConflictError) as exc:
        db.rollback()
        return _user_page(request, actor, db, user_id, status_code=422, error=_problem(exc))
    return RedirectResponse(f"/admin/users/{user_id}?saved=1", status_code=303)
