"""The event rules in effect: the ``trigger: event`` rules of the alert rules document the
daily run last published (``yaml:alerts``), parsed once per text."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy.orm import Session

from weiwan.core.event_rules import EventRule, event_rules_of
from weiwan.core.logging import get_logger
from weiwan.core.yaml_safe import load_yaml
from weiwan.ops.org.config import text_in_effect

log = get_logger(__name__)


def rules_in_effect(session: Session) -> list[EventRule]:
    """The enabled event rules of the published alert rules (none before the first run)."""
    text = text_in_effect(session, "alerts")
    return list(_parsed_rules(text)) if text is not None else []


@lru_cache(maxsize=8)
def _parsed_rules(text: str) -> tuple[EventRule, ...]:
    """The enabled event rules of one document text (parsed once per text, not per batch)."""
    rules, problems = event_rules_of(load_yaml(text))
    for problem in problems:
        log.warning("events.rule_refused", problem=problem)
    return tuple(r for r in rules if r.enabled)
