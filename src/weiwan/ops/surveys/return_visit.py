"""The questionnaire asked on new-subscriber return visits (新入网回访).

weiwan ships one (``return_visit.yaml``); the first hand-over that creates return visits
installs it as an ordinary questionnaire and names it in the configuration document
``questionnaire:return_visit``. The centre changes it like any questionnaire; once it has
answers its questions are frozen, so the centre clones it, changes the clone and archives the
original: the visits then follow the newest active clone.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.core.errors import InvalidRequestError
from weiwan.ops.base import utcnow
from weiwan.ops.org.config import read_document
from weiwan.ops.org.models import ConfigDocument
from weiwan.ops.org.service import AuditAction, audit
from weiwan.ops.surveys.library import install_questionnaire
from weiwan.ops.surveys.models import Questionnaire
from weiwan.ops.surveys.schemas import QuestionnaireIn

#: the shipped default
DEFAULT_FILE = Path(__file__).with_name("return_visit.yaml")
#: the configuration document naming the questionnaire of the visits
DOCUMENT = "questionnaire:return_visit"
#: clones followed from an archived questionnaire at most
_MAX_CLONE_STEPS = 50


def default_questionnaire(path: Path = DEFAULT_FILE) -> QuestionnaireIn:
    """The shipped return-visit questionnaire, checked like one built in the web."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return QuestionnaireIn.model_validate(raw)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise InvalidRequestError(f"{path.name}: {exc}", field="questionnaire") from exc


def _named(session: Session) -> int | None:
    document = read_document(session, DOCUMENT)
    value = document.get("questionnaire_id") if document else None
    return value if isinstance(value, int) else None


def _write(session: Session, questionnaire_id: int, user_id: int | None) -> None:
    content = json.dumps({"questionnaire_id": questionnaire_id})
    document = session.get(ConfigDocument, DOCUMENT)
    now = utcnow()
    if document is None:
        session.add(
            ConfigDocument(name=DOCUMENT, content=content, updated_at=now, updated_by=user_id)
        )
    else:
        document.content, document.updated_at, document.updated_by = content, now, user_id
    session.flush()
    audit(
        session,
        user_id,
        AuditAction.CONFIG_CHANGE,
        "config_document",
        DOCUMENT,
        {"questionnaire_id": questionnaire_id},
    )


def _follow_clones(session: Session, questionnaire: Questionnaire | None) -> Questionnaire | None:
    """``questionnaire`` if active, else its newest active clone (through archived clones)."""
    for _ in range(_MAX_CLONE_STEPS):
        if questionnaire is None or questionnaire.status == "active":
            return questionnaire
        active = session.scalar(
            select(Questionnaire)
            .where(
                Questionnaire.cloned_from_id == questionnaire.id,
                Questionnaire.status == "active",
            )
            .order_by(Questionnaire.id.desc())
            .limit(1)
        )
        if active is not None:
            return active
        questionnaire = session.scalar(
            select(Questionnaire)
            .where(Questionnaire.cloned_from_id == questionnaire.id)
            .order_by(Questionnaire.id.desc())
            .limit(1)
        )
    return None


def return_visit_questionnaire(session: Session) -> Questionnaire | None:
    """The active questionnaire of the return visits (None before the first hand-over, or
    when the centre archived it without an active clone)."""
    named = _named(session)
    if named is None:
        return None
    return _follow_clones(session, session.get(Questionnaire, named))


def ensure_return_visit_questionnaire(session: Session) -> Questionnaire | None:
    """The questionnaire of the return visits, installing the shipped one the first time."""
    if _named(session) is None:
        questionnaire = install_questionnaire(session, default_questionnaire())
        _write(session, questionnaire.id, None)
        return questionnaire
    return return_visit_questionnaire(session)
