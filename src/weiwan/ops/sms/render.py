"""Template variables, rendering and SMS length.

Placeholders are ``string.Template``'s: ``${name}`` (or ``$name`` followed by a character that
cannot continue a name), ``$$`` for a dollar sign. Substitution is plain text replacement: no
expressions, no attribute access, no eval.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from string import Template

from weiwan.core.errors import InvalidRequestError
from weiwan.ops.customers.models import CustomerView

#: customer-view columns a template may use; filled from the customer when sending
CUSTOMER_FIELDS: tuple[str, ...] = (
    "name",
    "plan_id",
    "plan_monthly_fee",
    "value_tier",
    "arpu_1m",
    "tenure_months",
    "contract_end_date",
    "star_level",
    "brand",
)
FREE_VARIABLE = re.compile(r"^[a-z_][a-z0-9_]{0,31}$")
MAX_FREE_VALUE = 200
#: a rendered message longer than this many segments is not sent
MAX_SEGMENTS = 5

# GSM 03.38 default alphabet and its extension table (extension characters take two septets)
_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXT = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True, slots=True)
class Length:
    """The length of a text as the network counts it."""

    characters: int
    encoding: str  # "gsm7" or "ucs2"
    segments: int


def measure(text: str) -> Length:
    """Characters, encoding and segments: GSM-7 texts 160 per single message, 153 per part;
    anything else (Chinese) UCS-2, 70 per single message, 67 per part."""
    if all(c in _GSM7 or c in _GSM7_EXT for c in text):
        units = sum(2 if c in _GSM7_EXT else 1 for c in text)
        single, part, encoding = 160, 153, "gsm7"
    else:
        units = len(text.encode("utf-16-le", "surrogatepass")) // 2
        single, part, encoding = 70, 67, "ucs2"
    segments = 1 if units <= single else math.ceil(units / part)
    return Length(units, encoding, segments)


def placeholders(body: str, field: str) -> list[str]:
    """The variable names ``body`` uses, in order; refuses malformed placeholders."""
    template = Template(body)
    if not template.is_valid():
        raise InvalidRequestError(
            "a '$' that starts no ${variable}; write $$ for a dollar sign", field=field
        )
    return template.get_identifiers()


def check_template(
    body_zh: str, body_en: str | None, free_variables: Iterable[str]
) -> tuple[list[str], list[str]]:
    """The customer fields and free variables the bodies use; a placeholder that is neither a
    customer field nor a declared free variable is refused with its name."""
    free = list(free_variables)
    for name in free:
        if not FREE_VARIABLE.match(name):
            raise InvalidRequestError(
                f"free variable {name!r} must be lower-case letters, digits and _",
                field="free_variables",
            )
        if name in CUSTOMER_FIELDS:
            raise InvalidRequestError(
                f"{name!r} is a customer field; do not declare it as a free variable",
                field="free_variables",
            )
    used: list[str] = []
    for field, body in (("body_zh", body_zh), ("body_en", body_en)):
        if body is None:
            continue
        for name in placeholders(body, field):
            if name not in CUSTOMER_FIELDS and name not in free:
                raise InvalidRequestError(
                    f"unknown variable {name!r}: use a customer field "
                    f"({', '.join(CUSTOMER_FIELDS)}) or declare it as a free variable",
                    field=field,
                )
            if name not in used:
                used.append(name)
    return [n for n in used if n in CUSTOMER_FIELDS], [n for n in used if n not in CUSTOMER_FIELDS]


def format_value(value: object) -> str:
    """A customer value as text: whole numbers without decimals, money with two."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.2f}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def customer_values(customer: CustomerView, fields: Iterable[str]) -> dict[str, str] | str:
    """The values of ``fields`` for ``customer``, or the name of the first field it lacks."""
    values: dict[str, str] = {}
    for name in fields:
        value = getattr(customer, name)
        if value is None or value == "":
            return name
        values[name] = format_value(value)
    return values


def check_free_values(declared: Iterable[str], given: Mapping[str, str] | None) -> dict[str, str]:
    """The free variables' values: every declared one given, nothing undeclared, short."""
    given = dict(given or {})
    declared = list(declared)
    for name in declared:
        if name not in given:
            raise InvalidRequestError(f"variable {name!r} needs a value", field="variables")
    for name, value in given.items():
        if name not in declared:
            raise InvalidRequestError(
                f"variable {name!r} is not declared by the template", field="variables"
            )
        if len(value) > MAX_FREE_VALUE:
            raise InvalidRequestError(
                f"variable {name!r} is longer than {MAX_FREE_VALUE} characters",
                field="variables",
            )
    return given


def render(body: str, values: Mapping[str, str]) -> str:
    """``body`` with its placeholders replaced (every placeholder must have a value)."""
    return Template(body).substitute(values)
