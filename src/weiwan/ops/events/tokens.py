"""Service tokens: a source system's bearer credential for event intake only.

A token is ``wwe_`` + 32 random bytes (URL-safe base64), shown once when created and stored
only as its SHA-256 hex: a fast hash is enough for a random secret of 256 bits (no dictionary
to try), and it lets the intake find the token by an index lookup on every request — a slow
password hash (argon2) would cost ~50 ms per batch for nothing. Creating and revoking are
audited.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.core.errors import ConflictError, InvalidRequestError, NotFoundError
from weiwan.ops.base import as_utc, utcnow
from weiwan.ops.events.models import ServiceToken
from weiwan.ops.org.service import AuditAction, audit

PREFIX = "wwe_"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
#: ``last_used_at`` is stamped at most this often (not a write per batch)
STAMP_EVERY = timedelta(minutes=1)


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, name: str, *, by: int | None = None) -> str:
    """A new token for source ``name`` (unique among tokens, revoked ones included: the name
    is the events' source); returns the token itself, which is not stored."""
    import re

    if not re.match(NAME_PATTERN, name):
        raise InvalidRequestError(
            "a source name is 1–64 lower-case letters, digits, '_', '.' or '-'", field="name"
        )
    if session.scalar(select(ServiceToken.id).where(ServiceToken.name == name)) is not None:
        raise ConflictError(f"a token named {name!r} exists: revoke it and pick a new name")
    token = PREFIX + secrets.token_urlsafe(32)
    session.add(ServiceToken(name=name, scope="events", token_hash=digest(token), created_by=by))
    session.flush()
    audit(session, by, AuditAction.SERVICE_TOKEN, "service_token", name, {"created": True})
    return token


def revoke_token(session: Session, name: str, *, by: int | None = None) -> None:
    """Revoke the token of source ``name`` (its events stay)."""
    found = session.scalar(select(ServiceToken).where(ServiceToken.name == name))
    if found is None:
        raise NotFoundError(f"no token named {name!r}")
    if found.revoked_at is None:
        found.revoked_at = utcnow()
        audit(session, by, AuditAction.SERVICE_TOKEN, "service_token", name, {"revoked": True})


def list_tokens(session: Session) -> list[ServiceToken]:
    """Every token, newest first (hashes only)."""
    return list(session.scalars(select(ServiceToken).order_by(ServiceToken.id.desc())))


def authenticate(session: Session, token: str | None, now: datetime) -> ServiceToken | None:
    """The live token ``token`` is, or None (unknown, revoked or malformed)."""
    if not token or not token.startswith(PREFIX) or len(token) > 128:
        return None
    hashed = digest(token)
    found = session.scalar(select(ServiceToken).where(ServiceToken.token_hash == hashed))
    if found is None or found.revoked_at is not None:
        return None
    if not hmac.compare_digest(found.token_hash, hashed):  # the index found it; be exact
        return None
    if found.last_used_at is None or now - as_utc(found.last_used_at) >= STAMP_EVERY:
        found.last_used_at = now
    return found
