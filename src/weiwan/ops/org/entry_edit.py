"""One entry of a rule document (a policy of the library, a saved target group) edited through
a form: the document text it starts from (the pending edit, else the text in effect), the entry
put in, retired or removed, and the whole document saved as the pending edit with the run's
rules (``config.save_pending``).

YAML stays the import/export format; a form edit writes the library back with PyYAML, which
keeps the policies and their keys in order but not the comments of a hand-written file (the
page says so; the raw YAML editor keeps them).
"""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy.orm import Session

from weiwan.core.errors import InvalidRequestError, NotFoundError
from weiwan.core.yaml_safe import load_yaml
from weiwan.ops.org import config
from weiwan.ops.org.access import Actor

KIND = "policies"


def document_text(session: Session, actor: Actor, kind: str = KIND) -> str:
    """The document a form edit starts from: the pending edit, else the text in effect."""
    view = config.rule_document_view(session, actor, kind)
    text = (view.pending or {}).get("text") or (view.in_effect or {}).get("text")
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequestError(
            f"the {kind} document is not published yet: the next daily run publishes it"
        )
    return text


def _document(text: str, kind: str) -> dict[str, Any]:
    raw = load_yaml(text)
    key = config.entries_key(kind)
    if not isinstance(raw, dict) or not isinstance(raw.get(key), list):
        raise InvalidRequestError(f"the document has no list of {key}", field=key)
    return raw


def document_entries(session: Session, actor: Actor, kind: str = KIND) -> list[Any]:
    """The document's entries (the pending edit's, else those in effect)."""
    entries: list[Any] = _document(document_text(session, actor, kind), kind)[
        config.entries_key(kind)
    ]
    return entries


def _position(entries: list[Any], entry_id: str) -> int | None:
    return next(
        (i for i, e in enumerate(entries) if isinstance(e, dict) and e.get("id") == entry_id),
        None,
    )


def entry_of(session: Session, actor: Actor, entry_id: str, kind: str = KIND) -> dict[str, Any]:
    """One entry as the document holds it, by id (404 when there is none)."""
    entries = document_entries(session, actor, kind)
    at = _position(entries, entry_id)
    if at is None:
        raise NotFoundError(f"{entry_id} not found")
    found: dict[str, Any] = entries[at]
    return found


def _dump(raw: dict[str, Any]) -> str:
    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False, width=100)


def save_entry(
    session: Session,
    actor: Actor,
    entry: dict[str, Any] | None,
    *,
    replaces: str | None = None,
    kind: str = KIND,
    add_if_missing: bool = False,
) -> dict[str, Any]:
    """Put ``entry`` into the document (in place of ``replaces``, else appended; ``None``
    removes ``replaces``; ``add_if_missing``: appended when ``replaces`` is not there) and
    save it as the pending edit: refused with every problem (``EditRefusedError``) when the
    rules say no; audited as a configuration change."""
    config.require_edit(actor, kind)
    raw = _document(document_text(session, actor, kind), kind)
    entries: list[Any] = raw[config.entries_key(kind)]
    at = None if replaces is None else _position(entries, replaces)
    if replaces is not None and at is None and not add_if_missing:
        raise NotFoundError(f"{replaces} not found")
    if entry is None:
        if at is None:
            raise InvalidRequestError("nothing to save", field="id")
        del entries[at]
    elif at is None:
        entries.append(entry)
    else:
        entries[at] = entry
    return config.save_pending(session, actor, kind, _dump(raw))


def retire_policy(session: Session, actor: Actor, policy_id: str) -> dict[str, Any]:
    """Mark a policy retired (it stays in the library, no longer offered) and save the library
    as the pending edit."""
    entry = dict(entry_of(session, actor, policy_id))
    entry["approval"] = "retired"
    return save_entry(session, actor, entry, replaces=policy_id)
