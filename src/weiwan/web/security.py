"""The secret that signs session cookies."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from weiwan.core.files import private_dir
from weiwan.core.settings import Settings

SESSION_COOKIE = "weiwan_session"


def secret_key(settings: Settings) -> str:
    """The configured key, else a random one created once in ``<home>/secret.key`` (0600)."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.home) / "secret.key"
    if path.exists():
        return path.read_text("utf-8").strip()
    private_dir(path.parent)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key)
    return key
