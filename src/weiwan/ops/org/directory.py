"""Names for display: users' display names and branch codes (what pages show beside ids)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import Branch, Team, User
from weiwan.ops.org.roles import Role
from weiwan.ops.scope import user_scope_clause


def display_names(session: Session, user_ids: Iterable[int]) -> dict[int, str]:
    """Display name per user id (ids of no user are left out; no query for no ids)."""
    ids = set(user_ids)
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all()
    return {int(u): str(n) for u, n in rows}


def branch_codes(session: Session) -> list[tuple[int, str]]:
    """(id, code) of every branch, by code."""
    rows = session.execute(select(Branch.id, Branch.code).order_by(Branch.code)).all()
    return [(int(i), str(c)) for i, c in rows]


def visible_branches(session: Session, actor: Actor) -> list[Branch]:
    """The branches the actor sees (their branch scope), by code."""
    return list(
        session.scalars(select(Branch).where(Branch.id.in_(actor.branch_ids)).order_by(Branch.code))
    )


def branch_names(session: Session, branch_ids: Iterable[int], *, english: bool) -> dict[int, str]:
    """Branch name per id in the reader's language (no query for no ids)."""
    ids = set(branch_ids)
    if not ids:
        return {}
    column = Branch.name_en if english else Branch.name_zh
    rows = session.execute(select(Branch.id, column).where(Branch.id.in_(ids))).all()
    return {int(i): str(n) for i, n in rows}


def team_names(session: Session, team_ids: Iterable[int]) -> dict[int, str]:
    """Team name per id (no query for no ids)."""
    ids = set(team_ids)
    if not ids:
        return {}
    rows = session.execute(select(Team.id, Team.name).where(Team.id.in_(ids))).all()
    return {int(i): str(n) for i, n in rows}


def agents_in_scope(session: Session, actor: Actor) -> list[User]:
    """Active agents within the actor's user scope, by name."""
    return list(
        session.scalars(
            select(User)
            .where(
                User.active.is_(True),
                User.role == Role.AGENT.value,
                user_scope_clause(actor, User.id),
            )
            .order_by(User.display_name, User.id)
        )
    )
