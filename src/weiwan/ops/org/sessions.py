"""Session contents and CSRF tokens.

Sessions are Starlette's signed cookies (itsdangerous): the cookie carries the user id, the
CSRF token and a fingerprint of the password hash, so a password change or deactivation ends
every session of that user at its next request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


def new_csrf_token() -> str:
    """A fresh random token for one session."""
    return secrets.token_urlsafe(32)


def tokens_match(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; a missing token never matches."""
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def password_fingerprint(password_hash: str) -> str:
    """A short digest of the stored hash, kept in the session to notice password changes."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:16]
