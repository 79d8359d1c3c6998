"""Malformed documents the input-hardening tests send (core, ops and page tests)."""

from __future__ import annotations

from typing import Any

#: the classic "billion laughs": 388 characters that expand to 9**8 (43 million) strings
LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]\n"
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
)
LEAF = {"field": "age", "op": ">", "value": 30}


def nested_not(levels: int) -> dict[str, Any]:
    """A filter of ``levels`` nested ``not`` around one leaf."""
    node: dict[str, Any] = dict(LEAF)
    for _ in range(levels):
        node = {"not": node}
    return node
