"""Error texts as clients get them: capped (:data:`weiwan.core.errors.MAX_ERROR_CHARS`), and on
pages translated when the error carries a message id (:func:`weiwan.core.errors.localisable`).

Also the API's answer to a request that fails validation: FastAPI's ``{"detail": [...]}``
shape, with every echoed input and context value made JSON-safe (a non-finite number becomes
its text) and cut short, and at most :data:`MAX_VALIDATION_ERRORS` entries.
"""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.encoders import jsonable_encoder

from weiwan.core.errors import (
    MORE_PROBLEMS,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    cap_text,
)
from weiwan.web.i18n import current_language, gettext
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


#: what a page in Chinese says for an error whose service text is English only, by kind
_PLAIN_WORDS = (
    (PermissionDeniedError, _l("Your role may not do this.")),
    (NotFoundError, _l("Not found, or not in your data scope.")),
    (ConflictError, _l("Not possible in the current state; reload the page and try again.")),
    (InvalidRequestError, _l("Please check the values you entered.")),
)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _in_document(field: object) -> bool:
    """Whether ``field`` is a path into a document the user edits (``channels.sms.caps.day``,
    ``targets[3]``): it is their own text's keys, so the message keeps it, in any language."""
    return isinstance(field, str) and ("." in field or "[" in field)


def in_reader_language(text: str) -> bool:
    """Whether ``text`` may be shown on the page: any text on an English page; on a Chinese
    page only text with Chinese in it (not a service's English message or a code)."""
    return not current_language().startswith("zh") or bool(_CJK.search(text))


def _in_reader_words(text: str, exc: Exception) -> str:
    """``text`` unless the page is in Chinese and ``text`` has no Chinese in it (a service's
    English message, or a code): then the plain words for the error's kind. English pages
    keep the service's own text, which says more."""
    if in_reader_language(text):
        return text
    word = next((w for kind, w in _PLAIN_WORDS if isinstance(exc, kind)), None)
    return str(word) if word is not None else gettext("Something went wrong")


def error_text(exc: Exception) -> str:
    """What a page shows for ``exc``: its translation when it has a message id; the path and
    message of a problem in a document the user edits; else its own words, without a field's
    code in front (``task_id: …``) and, on a Chinese page, never a service's English (the
    plain words for its kind instead); capped either way."""
    message_id = getattr(exc, "message_id", None)
    if message_id:
        text = gettext(message_id, **dict(getattr(exc, "message_variables", {})))
    elif _in_document(getattr(exc, "field", None)):  # a YAML/JSON path the admin wrote
        text = str(exc)
    else:  # a request error's own words, without the field's code in front
        text = _in_reader_words(str(getattr(exc, "message", None) or exc), exc)
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
