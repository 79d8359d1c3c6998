"""Configuration documents edited in the web and applied by the daily run.

The analysts' YAML files (policy library, alert rules, care rules, contact policy) are edited by
roles that may configure; an edit is saved as the *pending* document of its kind and takes
effect at the next daily run, which validates it with the analytics validators and publishes
back, per kind:

* ``yaml:<kind>``: the YAML text in effect, ``{"text", "source", "edited", "sha256"}``;
* ``validation:<kind>``: the messages of the text in effect and of the last pending edit
  checked, ``{"snapshot", "errors": [...], "warnings": [...], "pending": {...} | null}``, each
  message ``{"item", "field", "message"}``;
* ``pending:<kind>``: the edit waiting for the next run, ``{"text", "by", "username", "at",
  "sha256"}`` (the run removes it once applied; a refused edit stays, with its messages).

Every save is audited as ``config_change``. The contact policy, the policy library, the target
groups and the tags are also checked here at once with the shared rules
(:mod:`weiwan.core.contact_rules`, :mod:`weiwan.ops.org.policy_check`); the other kinds get a
YAML syntax and shape check now and their full validation at the run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.core.contact_rules import ContactRules
from weiwan.core.errors import InvalidRequestError, localisable
from weiwan.core.strategy_rules import Strategies
from weiwan.core.yaml_safe import AnchorNotAllowedError, load_yaml
from weiwan.ops.base import utcnow
from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import ConfigDocument
from weiwan.ops.org.policy_check import check_document
from weiwan.ops.org.roles import Role
from weiwan.ops.org.service import AuditAction, audit

#: the kinds of rule documents (business rules edited on the /settings/ pages), in the order
#: the pages list them
RULE_DOCUMENT_KINDS: tuple[str, ...] = (
    "policies",
    "alerts",
    "care",
    "contact_policy",
    "anomalies",
    "target_groups",
    "tags",
    "decide",
)
#: the kinds analysts edit too (``may_define_targets``); the others need ``may_configure``
TARGET_KINDS = frozenset({"target_groups", "tags"})
#: the top-level list each kind's YAML must have (the contact policy is a mapping of sections)
_TOP_LIST: dict[str, str | None] = {
    "policies": "policies",
    "alerts": "rules",
    "care": "rules",
    "contact_policy": None,
    "anomalies": "rules",
    "target_groups": "groups",
    "tags": "tags",
    "decide": None,
}
#: roles that may read the rule-document pages (only roles with ``may_configure`` may save)
RULE_DOCUMENT_READERS = (Role.ADMIN, Role.CENTRE_HEAD, Role.DIRECTOR, Role.ANALYST)
MAX_TEXT = 500_000


def yaml_name(kind: str) -> str:
    """The document holding the YAML text in effect of ``kind``."""
    return f"yaml:{_known(kind)}"


def pending_name(kind: str) -> str:
    """The document holding the edit of ``kind`` waiting for the next run."""
    return f"pending:{_known(kind)}"


def validation_name(kind: str) -> str:
    """The document holding the validation messages of ``kind``."""
    return f"validation:{_known(kind)}"


def text_digest(text: str) -> str:
    """The SHA-256 of a YAML text (ties validation messages to the pending text checked)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _known(kind: str) -> str:
    if kind not in RULE_DOCUMENT_KINDS:
        raise InvalidRequestError(
            f"unknown settings kind {kind!r}; use {', '.join(RULE_DOCUMENT_KINDS)}", field="kind"
        )
    return kind


@dataclass(frozen=True, slots=True)
class RuleDocumentView:
    """What the rule-document page of one kind shows: the text in effect, the pending edit and the
    validation messages (each ``None`` until published / saved)."""

    kind: str
    in_effect: dict[str, Any] | None
    pending: dict[str, Any] | None
    validation: dict[str, Any] | None
    in_effect_at: datetime | None = None

    @property
    def pending_checked(self) -> dict[str, Any] | None:
        """The last run's verdict on *this* pending text (None when not yet checked)."""
        checked = (self.validation or {}).get("pending")
        if not self.pending or not checked:
            return None
        return checked if checked.get("sha256") == self.pending.get("sha256") else None


def read_document(session: Session, name: str) -> dict[str, Any] | None:
    """A configuration document's JSON content (None when missing or not JSON)."""
    content = session.scalar(select(ConfigDocument.content).where(ConfigDocument.name == name))
    if content is None:
        return None
    try:
        value = json.loads(content)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def text_in_effect(session: Session, kind: str) -> str | None:
    """The YAML text of rule document ``kind`` in effect (None before it is published)."""
    text = (read_document(session, yaml_name(kind)) or {}).get("text")
    return text if isinstance(text, str) else None


def rule_document_view(session: Session, actor: Actor, kind: str) -> RuleDocumentView:
    """The documents of ``kind`` for a rule-document page (roles of
    :data:`RULE_DOCUMENT_READERS`)."""
    actor.require(*RULE_DOCUMENT_READERS)
    document = session.get(ConfigDocument, yaml_name(kind))
    return RuleDocumentView(
        kind=kind,
        in_effect=read_document(session, yaml_name(kind)),
        pending=read_document(session, pending_name(kind)),
        validation=read_document(session, validation_name(kind)),
        in_effect_at=document.updated_at if document else None,
    )


def _pydantic_problem(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(file)"
    return where, str(err["msg"]).removeprefix("Value error, ")


def check_text(kind: str, text: str) -> Any:
    """The parsed YAML of an edit of ``kind``; :class:`InvalidRequestError` naming the line or
    field when the syntax or the shape is wrong (the contact policy is fully validated)."""
    _known(kind)
    if not text.strip():
        raise InvalidRequestError("the document is empty")
    if len(text) > MAX_TEXT:
        raise InvalidRequestError(f"the document is longer than {MAX_TEXT} characters")
    try:
        raw = load_yaml(text)
    except AnchorNotAllowedError as exc:
        error = InvalidRequestError(f"YAML syntax: {exc}")
        raise localisable(error, exc.message_id, **exc.message_variables) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidRequestError(f"YAML syntax: {where}{problem}") from None
    if not isinstance(raw, dict):
        raise InvalidRequestError("expected a mapping of sections at the top")
    top = _TOP_LIST[kind]
    if top is not None and not isinstance(raw.get(top), list):
        raise InvalidRequestError("expected a list", field=top)
    if kind == "contact_policy":
        try:
            ContactRules.model_validate(raw)
        except ValidationError as exc:
            field, message = _pydantic_problem(exc)
            raise InvalidRequestError(message, field=field) from None
    if kind == "decide" and raw.get("strategies") is not None:
        try:
            Strategies.model_validate(raw["strategies"])
        except ValidationError as exc:
            field, message = _pydantic_problem(exc)
            raise InvalidRequestError(message, field=f"strategies.{field}") from None
    return raw


def entries_key(kind: str) -> str:
    """The top-level list of a document of ``kind`` (``policies``, ``groups`` …)."""
    key = _TOP_LIST[_known(kind)]
    if key is None:
        raise InvalidRequestError(f"{kind} has no list of entries", field="kind")
    return key


def require_edit(actor: Actor, kind: str) -> None:
    """Raise unless the actor may edit documents of ``kind``."""
    if kind in TARGET_KINDS:
        actor.require_define_targets()
    else:
        actor.require_configure()


def save_pending(session: Session, actor: Actor, kind: str, text: str) -> dict[str, Any]:
    """Save an edit of ``kind`` for the next run (roles that may configure); audited. The
    policy library, the target groups and the tags are checked with the run's rules first
    (``policy_check``: refused with every problem by entry and field)."""
    require_edit(actor, kind)
    check_document(session, kind, check_text(kind, text))
    now = utcnow()
    content = {
        "text": text,
        "by": actor.user_id,
        "username": actor.username,
        "at": now.isoformat(),
        "sha256": text_digest(text),
    }
    name = pending_name(kind)
    document = session.get(ConfigDocument, name)
    serialised = json.dumps(content, ensure_ascii=False)
    if document is None:
        session.add(
            ConfigDocument(name=name, content=serialised, updated_at=now, updated_by=actor.user_id)
        )
    else:
        document.content, document.updated_at, document.updated_by = serialised, now, actor.user_id
    session.flush()
    audit(
        session,
        actor.user_id,
        AuditAction.CONFIG_CHANGE,
        "config_document",
        name,
        {"kind": kind, "pending": True, "chars": len(text), "sha256": content["sha256"]},
    )
    return content


def discard_pending(session: Session, actor: Actor, kind: str) -> bool:
    """Withdraw the pending edit of ``kind`` (roles that may configure); audited. False when
    there was none."""
    require_edit(actor, kind)
    name = pending_name(kind)
    document = session.get(ConfigDocument, name)
    if document is not None:
        session.delete(document)
        session.flush()
        audit(
            session,
            actor.user_id,
            AuditAction.CONFIG_CHANGE,
            "config_document",
            name,
            {"kind": kind, "discarded": True},
        )
    return document is not None
