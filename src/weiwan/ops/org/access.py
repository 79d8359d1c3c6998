"""Who is asking: the caller's role, permissions and data scope, passed to every service."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from weiwan.core.errors import PermissionDeniedError
from weiwan.ops.org.models import User
from weiwan.ops.org.roles import Permissions, Role, Scope, permissions
from weiwan.ops.org.service import visible_branch_ids


@dataclass(frozen=True, slots=True)
class Actor:
    """The logged-in user as services see it."""

    user_id: int
    username: str
    display_name: str
    role: Role
    branch_id: int
    team_id: int | None
    branch_ids: frozenset[int]

    @property
    def permissions(self) -> Permissions:
        """What the role may do."""
        return permissions(self.role)

    @property
    def scope(self) -> Scope:
        """Which customers and tasks the role sees."""
        return self.permissions.scope

    def require(self, *roles: Role) -> None:
        """Raise :class:`PermissionDeniedError` unless the actor has one of ``roles``."""
        if self.role not in roles:
            raise PermissionDeniedError(f"role {self.role.value} may not do this")

    def require_customer_work(self) -> None:
        """Raise unless the role serves customers: the administrator runs the system and the
        analyst works on aggregates; neither records contacts, answers or wishes, nor works
        tasks (they may still read what their scope shows)."""
        if self.role in (Role.ADMIN, Role.ANALYST):
            raise PermissionDeniedError(f"role {self.role.value} does not work with customers")

    def require_export(self) -> None:
        """Raise unless the role may export data."""
        if not self.permissions.may_export:
            raise PermissionDeniedError(f"role {self.role.value} may not export data")

    def require_approve(self) -> None:
        """Raise unless the role may approve campaigns."""
        if not self.permissions.may_approve:
            raise PermissionDeniedError(f"role {self.role.value} may not approve")

    def require_define_targets(self) -> None:
        """Raise unless the role may define the saved target groups."""
        if not self.permissions.may_define_targets:
            raise PermissionDeniedError(f"role {self.role.value} may not define target groups")

    def require_configure(self) -> None:
        """Raise unless the role may change configuration."""
        if not self.permissions.may_configure:
            raise PermissionDeniedError(f"role {self.role.value} may not change configuration")


def actor_for(session: Session, user: User) -> Actor:
    """The :class:`Actor` of ``user`` (branch scope resolved once per request)."""
    return Actor(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        branch_id=user.branch_id,
        team_id=user.team_id,
        branch_ids=visible_branch_ids(session, user),
    )
