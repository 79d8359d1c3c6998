"""Pydantic shapes of organisation data at the edge (forms, API)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from weiwan.ops.org.roles import Role
from weiwan.ops.types import IdField

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256  # bounds the hashing work an attacker can request


class UserCreate(BaseModel):
    """A new user; the password is checked against the policy and never stored as given."""

    model_config = ConfigDict(str_strip_whitespace=False, frozen=True)

    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    display_name: str = Field(min_length=1, max_length=100)
    password: str = Field(
        min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH, repr=False
    )
    role: Role
    branch_id: IdField
    team_id: IdField | None = None

    @model_validator(mode="after")
    def _password_not_username(self) -> UserCreate:
        if self.username.lower() in self.password.lower():
            raise ValueError("password must not contain the username")
        return self


class UserOut(BaseModel):
    """A user as shown to others: no password hash."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    branch_id: IdField
    team_id: int | None
    active: bool
    last_login_at: datetime | None
    created_at: datetime
    #: 'local' (password here) or 'ldap' (the operator's directory, docs/ldap.md)
    auth_source: Literal["local", "ldap"] = "local"


class LoginRequest(BaseModel):
    """Credentials posted to log in."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH, repr=False)


class PermissionsOut(BaseModel):
    """What the logged-in role may do (for the pages to show or hide actions)."""

    scope: str
    may_see_full_numbers: bool
    may_export: bool
    may_approve: bool
    may_configure: bool
    may_see_full_id_numbers: bool = False


class SessionOut(BaseModel):
    """The logged-in user, their permissions and the CSRF token for unsafe requests."""

    user: UserOut
    permissions: PermissionsOut
    csrf_token: str


class UserUpdate(BaseModel):
    """Changes an administrator makes to a user (omitted fields stay)."""

    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    role: Role | None = None
    branch_id: IdField | None = None
    team_id: IdField | None = None
    active: bool | None = None
    password: str | None = Field(
        default=None, min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH, repr=False
    )
    unlock: bool = False


class BranchCreate(BaseModel):
    """A new branch; ``parent_id`` makes it a rural sub-branch of a city branch."""

    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=100)
    parent_id: IdField | None = None


class BranchOut(BaseModel):
    """A branch."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name_zh: str
    name_en: str
    parent_id: int | None


class TeamCreate(BaseModel):
    """A new team in a branch."""

    branch_id: IdField
    name: str = Field(min_length=1, max_length=100)


class TeamOut(BaseModel):
    """A team."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    branch_id: IdField
    name: str


class AuditOut(BaseModel):
    """One audit event."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    user_id: int | None
    action: str
    target_type: str | None
    target_id: str | None
    detail: str | None
    ip: str | None
