"""Organisation tables: branches (city → rural sub-branch), teams, users, audit events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from weiwan.ops.base import Base, UTCDateTime, utcnow
from weiwan.ops.org.roles import Role

ROLE_VALUES: tuple[str, ...] = tuple(r.value for r in Role)


class Branch(Base):
    """A city branch, or a rural sub-branch when ``parent_id`` points at its city branch."""

    __tablename__ = "branches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"), index=True)

    parent: Mapped[Branch | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Branch]] = relationship(back_populates="parent")


class Team(Base):
    """A team (shift) of agents inside one branch."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("branch_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))


#: where an account's password is checked: ``local`` (argon2 hash here) or ``ldap`` (the
#: operator's directory, docs/ldap.md)
AUTH_LOCAL = "local"
AUTH_LDAP = "ldap"
AUTH_SOURCES: tuple[str, ...] = (AUTH_LOCAL, AUTH_LDAP)


class User(Base):
    """A person who logs in; ``role`` decides scope and permissions (see ``roles.py``).

    ``auth_source`` 'ldap': a mirror of a directory account, created and updated at each
    directory login (``directory_login.py``); its password hash is unusable."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN {ROLE_VALUES!r}", name="role"),
        CheckConstraint(f"auth_source IN {AUTH_SOURCES!r}", name="auth_source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    auth_source: Mapped[str] = mapped_column(
        String(8), default=AUTH_LOCAL, server_default=text("'local'")
    )
    #: the directory entry the user last logged in as (``ldap`` accounts only)
    directory_dn: Mapped[str | None] = mapped_column(String(512))
    #: deactivated because the directory refused the account (disabled, no mapped group,
    #: gone): a later login the directory accepts activates it again; a deactivation by an
    #: administrator (this false) stays
    directory_refused: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )

    @property
    def role_enum(self) -> Role:
        """``role`` as a :class:`Role`."""
        return Role(self.role)


class AuditEvent(Base):
    """One audited action: login, personal-data view, export, approval, configuration change."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_target", "target_type", "target_id"),
        # the lookup rate limit counts a user's recent rows of one action (customers.lookups)
        Index("ix_audit_events_user_action_at", "user_id", "action", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(32), index=True)
    target_type: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[str | None] = mapped_column(Text)  # JSON text
    ip: Mapped[str | None] = mapped_column(String(45))


class ConfigDocument(Base):
    """A named configuration document (JSON), e.g. the contact rules the pipeline publishes or
    an administrator edits; every change is audited as ``config_change``."""

    __tablename__ = "config_documents"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    content: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class UserSession(Base):
    """One login: the cookie carries a random token, the table its SHA-256 (a stolen table
    gives no usable cookie). Checked on every request; ended by logout, a password change,
    lock-out or deactivation, and by the idle and absolute lifetimes (docs/decisions/0007)."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(16))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))


class LoginFailure(Base):
    """A failed login by user name and client address, counted by the login throttle across
    server processes (rows older than a day are pruned)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username_at", "username", "at"),
        Index("ix_login_failures_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(45))
