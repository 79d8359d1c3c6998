"""The rules the ledger applies, as the daily run last published them: the policy library
(budgets, entry limits, validity), the value caps, decide.yaml's valuation settings and the
contact policy. Each document is parsed once per text, not per event."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session

from weiwan.core.contact_rules import ContactRules
from weiwan.core.decide_rules import DecideConfig
from weiwan.core.logging import get_logger
from weiwan.core.policy_rules import PolicyRule, ValueCapsRule
from weiwan.core.yaml_safe import load_yaml
from weiwan.ops.contacts.rules import current_rules
from weiwan.ops.org.config import text_in_effect

log = get_logger(__name__)


@dataclass(frozen=True)
class Library:
    """The published policy library: valid entries by id, and the value caps (None: none)."""

    policies: Mapping[str, PolicyRule] = field(default_factory=dict)
    caps: ValueCapsRule | None = None


@dataclass(frozen=True)
class LedgerRules:
    """What an online decision and the ledger's checks need."""

    library: Library
    decide: DecideConfig | None
    contact: ContactRules


def ledger_rules(session: Session) -> LedgerRules:
    """The rules in effect (an empty library and no valuation before the first daily run)."""
    return LedgerRules(
        library=_library(text_in_effect(session, "policies")),
        decide=_decide(text_in_effect(session, "decide")),
        contact=current_rules(session),
    )


def _parsed(text: str | None) -> Any:
    """The YAML of a published text (None when there is none or it does not parse: the daily
    run publishes only documents it validated)."""
    try:
        return load_yaml(text) if text else None
    except yaml.YAMLError:
        return None


@lru_cache(maxsize=8)
def _library(text: str | None) -> Library:
    """The entries that pass their own checks (the daily run refuses the others too)."""
    raw = _parsed(text)
    if not isinstance(raw, dict):
        return Library()
    policies: dict[str, PolicyRule] = {}
    for entry in raw.get("policies") or []:
        try:
            policy = PolicyRule.model_validate(entry)
        except ValidationError:
            continue  # refused by the daily run as well, and reported there
        policies[policy.id] = policy
    caps = None
    if raw.get("value_caps") is not None:
        try:
            caps = ValueCapsRule.model_validate(raw["value_caps"])
        except ValidationError as exc:
            log.warning("ledger.value_caps_refused", problem=str(exc.errors()[0]["msg"]))
    return Library(policies=policies, caps=caps)


@lru_cache(maxsize=8)
def _decide(text: str | None) -> DecideConfig | None:
    raw = _parsed(text)
    if not isinstance(raw, dict):
        return None
    try:
        return DecideConfig.model_validate(raw)
    except ValidationError as exc:
        log.warning("ledger.decide_refused", problem=str(exc.errors()[0]["msg"]))
        return None
