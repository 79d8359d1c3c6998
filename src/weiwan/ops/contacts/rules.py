"""The contact rules in force: the document the pipeline published, or the defaults."""

from __future__ import annotations

import json
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.core.contact_rules import ContactRules
from weiwan.ops.org.models import ConfigDocument

DOCUMENT = "contact_rules"


def current_rules(session: Session) -> ContactRules:
    """The published contact rules (``config_documents['contact_rules']``), else the defaults
    (no caps: nothing published yet means nothing configured)."""
    return rules_of(session.scalar(RULES_DOCUMENT))


#: the published rules' text (None: nothing published)
RULES_DOCUMENT = select(ConfigDocument.content).where(ConfigDocument.name == DOCUMENT)


def rules_of(content: str | None) -> ContactRules:
    """The rules of a published document's text (None: the defaults)."""
    return ContactRules() if content is None else _parsed(content)


@lru_cache(maxsize=16)
def _parsed(content: str) -> ContactRules:
    """The rules of one document text (parsed once per process; the document changes daily)."""
    return ContactRules.model_validate(json.loads(content))
