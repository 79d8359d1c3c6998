"""The one YAML loader for every document a user writes (policies, rules, contact policy,
appraisal scheme, tag and target files, mappings, CLI filters).

PyYAML's ``safe_load`` still expands anchors and aliases: a few hundred characters of nested
aliases ("billion laughs") become millions of values, and every message that echoes a value
grows with them. No document of weiwan needs them, so :func:`load_yaml` refuses the first
anchor (``&name``) or alias (``*name``, also in a ``<<:`` merge) with a
:class:`AnchorNotAllowedError` naming its line and column, before anything is built.

The error is a :class:`yaml.YAMLError` with a ``problem_mark``, so callers that already report
YAML syntax errors by line and column report this one the same way.

Where PyYAML has its libyaml binding (its wheels do), the document is read by libyaml twice —
once as events, refused at the first anchor or alias, then loaded — ten times faster than the
pure-Python composer (policies.yaml: 22 ms -> 2 ms; a month of the simulated loop reads ~50
documents). Without it, :class:`NoAnchorLoader` does both in one pure-Python pass.
"""

from __future__ import annotations

from typing import Any, TypeGuard

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
        # libyaml's events carry marks of its own class: the error keeps PyYAML's, as a syntax
        # error's (the message is ours, so the mark needs no snippet of the text)
        start = event.start_mark
        assert start is not None  # both parsers mark every event
        mark = Mark(start.name, start.index, start.line, start.column, None, 0)
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
        if _anchored(event):
            raise AnchorNotAllowedError(event)
        return super().compose_node(parent, index)


def load_yaml(text: str | bytes) -> Any:
    """The YAML document ``text`` as Python values (safe types only; no anchors or aliases).

    Raises :class:`yaml.YAMLError` (:class:`AnchorNotAllowedError` for an anchor or alias)."""
    if not yaml.__with_libyaml__:
        return _load_in_python(text)
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if _anchored(event):
                raise AnchorNotAllowedError(event)
        return yaml.load(text, Loader=yaml.CSafeLoader)
    except AnchorNotAllowedError:
        raise
    except yaml.YAMLError:
        # libyaml's errors quote none of the text: a document that is not valid YAML is read
        # again in Python, whose error shows the line and where in it, as users see elsewhere
        return _load_in_python(text)


def _load_in_python(text: str | bytes) -> Any:
    loader = NoAnchorLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _anchored(event: object) -> TypeGuard[NodeEvent]:
    """An alias, or a node that declares an anchor."""
    return isinstance(event, AliasEvent) or (
        isinstance(event, NodeEvent) and event.anchor is not None
    )
