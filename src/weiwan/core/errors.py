"""Errors a user can act on: each names the file, row and field where it can.

Error texts returned to a client (API answer, web page) are capped at
:data:`MAX_ERROR_CHARS` by :func:`cap_text` / :func:`join_problems`: the problems that fit,
then "… and N more problems", so a document with thousands of problems (or one that echoes a
huge value) never becomes a huge answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

#: the longest error text returned to a client (characters, the "… and N more" suffix aside)
MAX_ERROR_CHARS = 2000
#: the suffix of a capped text (English id; the web passes its translation)
MORE_PROBLEMS = "… and %(count)s more problems"
#: deepest nesting of a user's filter or expression (all / any / not, brackets, operators):
#: checked before anything recurses over it; real filters use 3-5 levels
MAX_NESTING = 32


class WeiwanError(Exception):
    """Base class for errors shown to users without a traceback.

    ``message_id`` and ``message_variables``, when set (:func:`localisable`), give the message
    as an English id with ``%(name)s`` placeholders, so the web can show its translation."""

    message_id: str | None = None
    message_variables: Mapping[str, object] = {}


_E = TypeVar("_E", bound=WeiwanError)


def localisable(exc: _E, message_id: str, **variables: object) -> _E:
    """``exc`` with its message's id and variables set (see :class:`WeiwanError`)."""
    exc.message_id = message_id
    exc.message_variables = variables
    return exc


def join_problems(
    problems: Sequence[str],
    *,
    limit: int = MAX_ERROR_CHARS,
    separator: str = "; ",
    more: str = MORE_PROBLEMS,
) -> str:
    """``problems`` joined while they fit in ``limit`` characters, then ``more`` with the
    count of those left out (a first problem longer than ``limit`` is cut, ending in "…")."""
    shown: list[str] = []
    used = 0
    for problem in problems:
        cost = len(problem) + (len(separator) if shown else 0)
        if used + cost > limit:
            if not shown:
                shown.append(problem[: max(limit - 1, 0)] + "…")
            break
        shown.append(problem)
        used += cost
    text = separator.join(shown)
    left = len(problems) - len(shown)
    return f"{text} {more % {'count': left}}" if left else text


def cap_text(text: str, *, limit: int = MAX_ERROR_CHARS, more: str = MORE_PROBLEMS) -> str:
    """An error text of "; "-separated problems capped as :func:`join_problems` does."""
    if len(text) <= limit:
        return text
    return join_problems(text.split("; "), limit=limit, more=more)


class ContractError(WeiwanError):
    """An extract does not meet the data contract as a whole (missing column, bad file)."""

    def __init__(self, message: str, *, file: str | None = None, column: str | None = None):
        self.file = file
        self.column = column
        where = ", ".join(
            p for p in (f"file {file}" if file else "", f"column {column}" if column else "") if p
        )
        super().__init__(f"{where}: {message}" if where else message)


class ConfigError(WeiwanError):
    """A configuration file (mapping, rules, tags) is invalid; names the file and entry."""


class NotFoundError(WeiwanError):
    """The thing asked for does not exist, or is outside the caller's data scope (the two are
    answered alike so ids cannot be probed)."""


class PermissionDeniedError(WeiwanError):
    """The caller's role may not do this."""


class ConflictError(WeiwanError):
    """The request conflicts with the current state (already accepted, wrong campaign state)."""


class InvalidRequestError(WeiwanError):
    """A request that is well-formed but cannot be carried out; ``field`` names the culprit."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        #: the message without the field in front (pages show this: no field codes on screen)
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)
