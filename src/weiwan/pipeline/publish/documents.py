"""Config documents the publish writes (``config_documents``: JSON under a name), through the
ORM session of the kind's transaction."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from weiwan.ops.base import utcnow
from weiwan.ops.org.models import ConfigDocument
from weiwan.ops.org.service import AuditAction, audit


def read_document(session: Session, name: str) -> tuple[str, dict[str, Any]] | None:
    """The stored text and JSON object of document ``name``; None when missing or not an
    object."""
    document = session.get(ConfigDocument, name)
    if document is None:
        return None
    try:
        value = json.loads(document.content)
    except ValueError:
        return None
    return (document.content, value) if isinstance(value, dict) else None


def write_document(session: Session, name: str, value: dict[str, Any]) -> bool:
    """Upsert document ``name`` (no user); True when its content changed."""
    content = json.dumps(value, ensure_ascii=False, default=str)
    document = session.get(ConfigDocument, name)
    if document is not None and document.content == content:
        return False
    if document is None:
        session.add(ConfigDocument(name=name, content=content, updated_at=utcnow()))
    else:
        document.content, document.updated_at, document.updated_by = content, utcnow(), None
    session.flush()
    return True


def audit_change(session: Session, name: str, detail: dict[str, Any]) -> None:
    """Audit a change of document ``name`` by the pipeline (``config_change``, no user)."""
    audit(session, None, AuditAction.CONFIG_CHANGE, "config_document", name, detail)
