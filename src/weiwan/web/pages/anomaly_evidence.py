"""The evidence of an anomaly-pool entry in the reader's language.

An entry stores its evidence as JSON ``{context column: value}`` (the rule's ``evidence``
list, docs/anomalies.md). :data:`FIELDS` gives each column the shipped rules name a label and
a kind (money, month, date, ratio, a code with its words …); a column a rule editor adds
that is not in it still reads: its name with spaces, dates as dates, numbers rounded.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any, Literal

from babel import dates

from weiwan.web import formatting
from weiwan.web.i18n import current_locale
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.labels import PAYMENT_TYPES, label

Kind = Literal["money", "month", "date", "ratio", "number", "code", "text"]

#: subscriber statuses of the data contract (``subscribers.status``)
LINE_STATUSES: dict[str, Any] = {
    "active": _l("In service"),
    "suspended_arrears": _l("Suspended (arrears)"),
    "suspended_keep_number": _l("Suspended (number kept)"),
    "suspended": _l("Suspended"),
    "pre_disconnect": _l("Pre-disconnected"),
    "disconnected": _l("Disconnected"),
    "ported_out": _l("Ported out"),
}
#: status event types of the data contract (``status_events.event_type``)
EVENTS: dict[str, Any] = {
    "suspend_arrears": _l("Arrears suspension"),
    "suspend_keep_number": _l("Keep-number suspension"),
    "suspend": _l("Suspension"),
    "pre_disconnect": _l("Pre-disconnect"),
    "disconnect": _l("Disconnect"),
    "port_out": _l("Port-out"),
    "resume": _l("Resumption"),
    "plan_change": _l("Plan change"),
    "call_forwarding_on": _l("Call forwarding on"),
    "call_forwarding_off": _l("Call forwarding off"),
}

#: column → (label, kind, words of a code column)
FIELDS: dict[str, tuple[Any, Kind, dict[str, Any] | None]] = {
    "bill_month": (_l("Bill month"), "month", None),
    "bill_1m": (_l("Bill"), "money", None),
    "bill_mean_prev_3m": (_l("3-month mean before"), "money", None),
    "bill_ratio_prev_3m": (_l("Bill vs mean"), "ratio", None),
    "bill_months_prev_3m": (_l("Bills in the 3 months before"), "number", None),
    "balance_1m": (_l("Month-end balance"), "money", None),
    "arrears_1m": (_l("Arrears"), "money", None),
    "payment_type": (_l("Payment type"), "code", PAYMENT_TYPES),
    "last_suspension_type": (_l("Last suspension"), "code", EVENTS),
    "last_suspension_date": (_l("Suspended on"), "date", None),
    "status": (_l("Line status"), "code", LINE_STATUSES),
    "status_date": (_l("Status since"), "date", None),
    "tenure_months": (_l("Tenure (months)"), "number", None),
    "latest_status_event": (_l("Latest status event"), "code", EVENTS),
    "latest_status_event_date": (_l("Event date"), "date", None),
    "last_pre_disconnect_date": (_l("Pre-disconnect on"), "date", None),
    "last_disconnect_date": (_l("Disconnect on"), "date", None),
    "last_port_out_date": (_l("Port-out on"), "date", None),
}
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _value(value: Any, kind: Kind, words: dict[str, Any] | None) -> str:
    if value is None:
        return formatting.EMPTY
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if kind in ("month", "date") or (kind == "text" and isinstance(value, str)):
        if isinstance(value, str) and _ISO_DAY.match(value):
            day = date.fromisoformat(value)
            if kind == "month":
                return dates.format_skeleton("yMMM", day, locale=current_locale())
            return formatting.format_date(day, "short")
        return str(value)
    if kind == "code":
        return label(words or {}, str(value))
    if not isinstance(value, int | float):
        return str(value)
    if kind == "money":
        return formatting.format_money(value, 2)
    if kind == "ratio":
        return _("%(num)s×", num=formatting.format_number(value, 2))
    return formatting.format_number(value, 0 if float(value).is_integer() else 2)


def evidence_items(text: str | None) -> list[tuple[str, str]]:
    """(label, value) of each evidence field, in the rule's order; unreadable JSON is shown
    as one item with no label."""
    try:
        values = json.loads(text or "{}")
    except ValueError:
        return [("", str(text))]
    if not isinstance(values, dict):
        return [("", str(values))]
    items = []
    for field, value in values.items():
        heading, kind, words = FIELDS.get(str(field), (None, "text", None))
        name = str(heading) if heading is not None else str(field).replace("_", " ")
        items.append((name, _value(value, kind, words)))
    return items


def evidence_text(text: str | None) -> str:
    """The evidence as one line (the Excel export): ``label: value; …``."""
    return "; ".join(f"{name}: {value}" if name else value for name, value in evidence_items(text))
