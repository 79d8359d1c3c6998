"""The fields a report may name, where each lives in the data contract, and how a reported
value is checked.

This is the one place that maps a report's ``field`` to the contract's source table and column
(``analytics/contract.py``; ops may not import analytics, so the names are repeated here and a
test compares them) and to the ``customer_view`` column whose value is stored as "the value in
the data". Every field is a column of the contract's ``subscribers`` table today; ``other``
names no column (the note says what is wrong).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType

from weiwan.core.errors import InvalidRequestError


@dataclass(frozen=True, slots=True)
class SourceField:
    """Where a reportable field comes from."""

    table: str  # the contract table (the source system's extract)
    column: str | None  # its column; None for ``other``
    view_column: str | None  # the ``customer_view`` column holding the current value
    max_length: int


#: field code → source; the order is the order of the form's choices
FIELDS: MappingProxyType[str, SourceField] = MappingProxyType(
    {
        "msisdn": SourceField("subscribers", "msisdn", "msisdn", 20),
        "name": SourceField("subscribers", "name", "name", 100),
        "id_number": SourceField("subscribers", "id_number", "id_number", 18),
        "plan_id": SourceField("subscribers", "plan_id", "plan_id", 32),
        "account_manager": SourceField("subscribers", "account_manager", "account_manager", 64),
        "branch": SourceField("subscribers", "branch", "branch_code", 32),
        "other": SourceField("subscribers", None, None, 200),
    }
)
FIELD_CODES: tuple[str, ...] = tuple(FIELDS)
SOURCE_TABLES: tuple[str, ...] = tuple(dict.fromkeys(f.table for f in FIELDS.values()))
#: fields whose values are masked for roles that may not see full numbers
NUMBER_FIELDS = frozenset({"msisdn", "id_number"})

#: the contract's patterns (``analytics/contract.py`` _MSISDN_PATTERN, _ID_NUMBER_PATTERN)
MSISDN_PATTERN = re.compile(r"^1[3-9][0-9]{9}$")
ID_NUMBER_PATTERN = re.compile(r"^[0-9]{17}[0-9X]$")
_CODE_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")
_SEPARATORS = re.compile(r"[\s\-()]")


def source_of(field: str) -> SourceField:
    """The source of ``field``; :class:`InvalidRequestError` naming ``field`` when unknown."""
    try:
        return FIELDS[field]
    except KeyError:
        known = ", ".join(FIELD_CODES)
        raise InvalidRequestError(
            f"unknown field {field!r} (one of {known})", field="field"
        ) from None


def normalise_value(field: str, value: str) -> str:
    """``value`` as the source system would store it, or :class:`InvalidRequestError` naming
    ``reported_value``: a phone number of 11 digits (spaces, dashes and a +86 prefix are
    dropped), an ID number of 17 digits and a digit or X, a plan or branch code without
    spaces, text without control characters."""
    source = source_of(field)
    text = " ".join(value.split())
    if not text:
        raise InvalidRequestError("give the right value", field="reported_value")
    if any(ord(ch) < 32 for ch in value if ch not in "\t\n\r"):
        raise InvalidRequestError("control characters are not allowed", field="reported_value")
    if field == "msisdn":
        digits = _SEPARATORS.sub("", text)
        digits = digits.removeprefix("+86").removeprefix("0086")
        if not MSISDN_PATTERN.match(digits):
            raise InvalidRequestError(
                "a phone number has 11 digits and starts with 13-19", field="reported_value"
            )
        return digits
    if field == "id_number":
        number = text.replace(" ", "").upper()
        if not ID_NUMBER_PATTERN.match(number):
            raise InvalidRequestError(
                "an ID number has 17 digits and a final digit or X", field="reported_value"
            )
        return number
    if field in ("plan_id", "branch") and not _CODE_PATTERN.match(text):
        raise InvalidRequestError(
            "a code has letters, digits, '-', '_' or '.' only", field="reported_value"
        )
    if len(text) > source.max_length:
        raise InvalidRequestError(f"at most {source.max_length} characters", field="reported_value")
    return text
