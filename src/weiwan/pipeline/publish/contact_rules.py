"""Publish the contact rules (kind ``contact_rules``) as the ``config_documents`` row
``contact_rules`` (upsert; a changed document is audited as ``config_change`` with no user)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from weiwan.analytics.contact_policy import load_contact_policy
from weiwan.pipeline.publish.bookkeeping import record_publication
from weiwan.pipeline.publish.documents import audit_change, write_document

KIND = "contact_rules"
#: the config document's name
CONTACT_RULES = "contact_rules"


def publish_contact_rules(engine: sa.Engine, snapshot: date, path: Path | None = None) -> int:
    """Publish the contact policy at ``path`` (None: the shipped one); returns 1."""
    policy = load_contact_policy(path).model_dump(mode="json")
    with Session(engine) as session, session.begin():
        if write_document(session, CONTACT_RULES, policy):
            detail = {"by": "pipeline publish", "snapshot": snapshot.isoformat()}
            audit_change(session, CONTACT_RULES, detail)
        record_publication(session.connection(), KIND, snapshot, 1)
    return 1
