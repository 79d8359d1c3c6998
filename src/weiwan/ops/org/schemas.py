"""Pydantic shapes of organisation data at the edge (forms, API)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from weiwan.ops.org.roles import Role

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
    branch_id: int
    team_id: int | None = None

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
    branch_id: int
    team_id: int | None
    active: bool
    last_login_at: datetime | None
    created_at: datetime
