"""One policy of the library edited through a form: the library text it starts from (the
pending edit, else the text in effect), the entry put in or retired, and the whole library
saved as the pending edit with the run's rules (``config.save_pending``).

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


def library_text(session: Session, actor: Actor) -> str:
    """The library a form edit starts from: the pending edit, else the text in effect."""
    view = config.rule_document_view(session, actor, KIND)
    text = (view.pending or {}).get("text") or (view.in_effect or {}).get("text")
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequestError(
            "the policy library is not published yet: the next daily run publishes it"
        )
    return text


def _library(text: str) -> dict[str, Any]:
    raw = load_yaml(text)
    if not isinstance(raw, dict) or not isinstance(raw.get("policies"), list):
        raise InvalidRequestError("the library has no list of policies", field="policies")
    return raw


def library_entries(session: Session, actor: Actor) -> list[Any]:
    """The library's policy entries (the pending edit's, else those in effect)."""
    policies: list[Any] = _library(library_text(session, actor))["policies"]
    return policies


def policy_entry(session: Session, actor: Actor, policy_id: str) -> dict[str, Any]:
    """One policy's entry as the library holds it (404 when there is none)."""
    for entry in library_entries(session, actor):
        if isinstance(entry, dict) and entry.get("id") == policy_id:
            return entry
    raise NotFoundError(f"policy {policy_id} not found")


def _dump(raw: dict[str, Any]) -> str:
    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False, width=100)


def save_policy(
    session: Session, actor: Actor, entry: dict[str, Any], *, replaces: str | None = None
) -> dict[str, Any]:
    """Put ``entry`` into the library (in place of ``replaces``, else appended) and save the
    library as the pending edit: refused with every problem (``PolicyLibraryRefusedError``)
    when the rules say no; audited as a configuration change."""
    actor.require_configure()
    raw = _library(library_text(session, actor))
    policies: list[Any] = raw["policies"]
    if replaces is None:
        policies.append(entry)
    else:
        at = next(
            (i for i, e in enumerate(policies) if isinstance(e, dict) and e.get("id") == replaces),
            None,
        )
        if at is None:
            raise NotFoundError(f"policy {replaces} not found")
        policies[at] = entry
    return config.save_pending(session, actor, KIND, _dump(raw))


def retire_policy(session: Session, actor: Actor, policy_id: str) -> dict[str, Any]:
    """Mark a policy retired (it stays in the library, no longer offered) and save the library
    as the pending edit."""
    entry = dict(policy_entry(session, actor, policy_id))
    entry["approval"] = "retired"
    return save_policy(session, actor, entry, replaces=policy_id)
