"""The one YAML loader for every document a user writes (policies, rules, contact policy,
appraisal scheme, tag and target files, mappings, CLI filters).

PyYAML's ``safe_load`` still expands anchors and aliases: a few hundred characters of nested
aliases ("billion laughs") become millions of values, and every message that echoes a value
grows with them. No document of weiwan needs them, so :func:`load_yaml` refuses the first
anchor (``&name``) or alias (``*name``, also in a ``<<:`` merge) with a
:class:`AnchorNotAllowedError` naming its line and column, before anything is built.

The error is a :class:`yaml.YAMLError` with a ``problem_mark``, so callers that already report
YAML syntax errors by line and column report this one the same way.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.error import Mark
from yaml.events import AliasEvent, NodeEvent
from yaml.nodes import Node

#: what is wrong with an anchor or alias (the YAML error's ``problem``)
ANCHOR_PROBLEM = "YAML anchors (&) and aliases (*) are not allowed; write the value out in full"
#: the whole message (English id; the web shows its translation)
ANCHOR_MESSAGE = "line %(line)s, column %(column)s: " + ANCHOR_PROBLEM


class AnchorNotAllowedError(ComposerError):
    """An anchor or alias in a user's document; ``line`` and ``column`` count from 1."""

    def __init__(self, event: NodeEvent) -> None:
        mark = event.start_mark
        assert isinstance(mark, Mark)  # the pure-Python composer always marks its events
        self.line = mark.line + 1
        self.column = mark.column + 1
        self.message_id = ANCHOR_MESSAGE
        self.message_variables = {"line": self.line, "column": self.column}
        super().__init__(None, None, ANCHOR_PROBLEM, mark)

    def __str__(self) -> str:
        return ANCHOR_MESSAGE % self.message_variables


class NoAnchorLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` whose composer refuses anchors and aliases."""

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        """Refuse an alias or an anchored node before composing it."""
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent) or (
            isinstance(event, NodeEvent) and event.anchor is not None
        ):
            raise AnchorNotAllowedError(event)
        return super().compose_node(parent, index)


def load_yaml(text: str | bytes) -> Any:
    """The YAML document ``text`` as Python values (safe types only; no anchors or aliases).

    Raises :class:`yaml.YAMLError` (:class:`AnchorNotAllowedError` for an anchor or alias)."""
    loader = NoAnchorLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
