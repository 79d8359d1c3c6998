"""The contact rules in force: the document the pipeline published, or the defaults."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from weiwan.core.contact_rules import ContactRules
from weiwan.ops.org.models import ConfigDocument

DOCUMENT = "contact_rules"


def current_rules(session: Session) -> ContactRules:
    """The published contact rules (``config_documents['contact_rules']``), else the defaults
    (no caps: nothing published yet means nothing configured)."""
    document = session.get(ConfigDocument, DOCUMENT)
    if document is None:
        return ContactRules()
    return ContactRules.model_validate(json.loads(document.content))
