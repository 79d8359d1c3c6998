"""Publish the contact rules (kind ``contact_rules``) as the ``config_documents`` row
``contact_rules`` (upsert; a changed document is audited as ``config_change`` with no user)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from weiwan.analytics.contact_policy import load_contact_policy
from weiwan.ops.base import utcnow
from weiwan.ops.org.models import AuditEvent, ConfigDocument
from weiwan.pipeline.publish.bookkeeping import record_publication
from weiwan.pipeline.publish.transport import table_of, upsert

KIND = "contact_rules"
#: the config document's name
CONTACT_RULES = "contact_rules"


def publish_contact_rules(engine: sa.Engine, snapshot: date, path: Path | None = None) -> int:
    """Publish the contact policy at ``path`` (None: the shipped one); returns 1."""
    content = json.dumps(load_contact_policy(path).model_dump(mode="json"), ensure_ascii=False)
    table = table_of(ConfigDocument)
    with engine.begin() as conn:
        before = conn.execute(
            sa.select(table.c.content).where(table.c.name == CONTACT_RULES)
        ).scalar_one_or_none()
        if before != content:
            values = {"name": CONTACT_RULES, "content": content, "updated_at": utcnow()}
            upsert(conn, table, values, keys=("name",), updated_by=None)
            conn.execute(
                sa.insert(table_of(AuditEvent)).values(
                    at=utcnow(),
                    user_id=None,
                    action="config_change",
                    target_type="config_document",
                    target_id=CONTACT_RULES,
                    detail=json.dumps(
                        {"by": "pipeline publish", "snapshot": snapshot.isoformat()},
                        ensure_ascii=False,
                    ),
                )
            )
        record_publication(conn, KIND, snapshot, 1)
    return 1
