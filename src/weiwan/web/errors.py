"""Error texts as clients get them: capped (:data:`weiwan.core.errors.MAX_ERROR_CHARS`), and on
pages translated when the error carries a message id (:func:`weiwan.core.errors.localisable`).

Also the API's answer to a request that fails validation: FastAPI's ``{"detail": [...]}``
shape, with every echoed input and context value made JSON-safe (a non-finite number becomes
its text) and cut short, and at most :data:`MAX_VALIDATION_ERRORS` entries.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.encoders import jsonable_encoder

from weiwan.core.errors import MORE_PROBLEMS, cap_text
from weiwan.web.i18n import gettext
from weiwan.web.i18n import lazy_gettext as _l

#: the messages of core and ops errors the pages translate: written out here so that the
#: catalogue test asks for their Chinese text (tests check they equal the core constants)
CORE_MESSAGES = (
    _l(
        "line %(line)s, column %(column)s: YAML anchors (&) and aliases (*) are not allowed; "
        "write the value out in full"
    ),
    _l("YAML anchors (&) and aliases (*) are not allowed; write the value out in full"),
    _l("nested more than %(limit)s levels deep (all / any / not); make the filter flatter"),
    _l("… and %(count)s more problems"),
)
_KNOWN = frozenset(str(m._args[0]) for m in CORE_MESSAGES)  # the English ids
#: the most validation errors one API answer lists (the rest are counted in ``more_errors``)
MAX_VALIDATION_ERRORS = 20
#: the longest echoed input or context text in a validation error
MAX_ECHO_CHARS = 200


def error_text(exc: Exception) -> str:
    """What a page shows for ``exc``: its translation when it has a message id, else its text
    — never with a field's code in front (``task_id: …``); capped either way."""
    message_id = getattr(exc, "message_id", None)
    if message_id:
        text = gettext(message_id, **dict(getattr(exc, "message_variables", {})))
    else:  # a request error's own words, without the field's code in front
        text = str(getattr(exc, "message", None) or exc)
    return cap_text(text, more=gettext(MORE_PROBLEMS))


def translated(message: str) -> str:
    """``message`` in the page's language when it is one of :data:`CORE_MESSAGES` (a fixed
    text without placeholders), else as it is."""
    return gettext(message) if message in _KNOWN else message


def more_problems(count: int) -> str:
    """ "… and N more problems" in the page's language."""
    return gettext(MORE_PROBLEMS, count=count)


def _safe(value: Any, depth: int = 0) -> Any:
    """``value`` made small and JSON-compliant (nested at most 3 levels, 20 items a level)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping | list | tuple) and depth < 3:
        if isinstance(value, Mapping):
            return {str(k): _safe(v, depth + 1) for k, v in list(value.items())[:20]}
        return [_safe(v, depth + 1) for v in list(value)[:20]]
    text = value if isinstance(value, str) else _short_repr(value)
    return text if len(text) <= MAX_ECHO_CHARS else text[: MAX_ECHO_CHARS - 1] + "…"


def _short_repr(value: Any) -> str:
    try:
        encoded = jsonable_encoder(value) if not isinstance(value, Mapping | list | tuple) else None
    except (RecursionError, TypeError, ValueError):
        encoded = None
    if isinstance(encoded, str):
        return encoded
    return reprlib.repr(value)


def validation_body(errors: Sequence[Any]) -> dict[str, Any]:
    """The API's 422 body for pydantic/FastAPI validation ``errors`` (see the module doc)."""
    shown = [_safe(error) for error in errors[:MAX_VALIDATION_ERRORS]]
    body: dict[str, Any] = {"detail": shown}
    if len(errors) > MAX_VALIDATION_ERRORS:
        body["more_errors"] = len(errors) - MAX_VALIDATION_ERRORS
    return body
