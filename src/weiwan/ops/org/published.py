"""Lists the daily run publishes beside its results for the editors and the pages (the target
groups' and the tags' ids and names, the tag library in effect), read one way."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.ops.org.models import ConfigDocument


def read_entries(session: Session, name: str) -> list[dict[str, Any]]:
    """The configuration document ``name`` as a JSON list of entries with a text ``id``
    ([] when missing or unreadable; other items left out)."""
    content = session.scalar(select(ConfigDocument.content).where(ConfigDocument.name == name))
    try:
        raw = json.loads(content) if content else []
    except ValueError:
        raw = []
    if not isinstance(raw, list):
        return []
    return [e for e in raw if isinstance(e, dict) and isinstance(e.get("id"), str)]
