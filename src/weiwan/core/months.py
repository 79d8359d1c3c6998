"""Calendar months: bill months, month ends and month arithmetic shared by analytics."""

from __future__ import annotations

import calendar
from datetime import date


def month_end(day: date) -> date:
    """The last day of ``day``'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, clipped to the end of a shorter month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def window_closed_by(snapshot: date, months: int) -> date:
    """The last day ``D`` whose window of ``months`` whole months, ``(D, add_months(D,
    months)]``, has ended by ``snapshot``. At a month end that is the end of the month
    ``months`` before — not its same day: a decision on 31 August has its 3 months by 30
    November (``add_months`` clips), which ``add_months(30 November, -3)`` = 30 August would
    leave out for another month."""
    back = add_months(snapshot, -months)
    return month_end(back) if snapshot == month_end(snapshot) else back


def last_complete_month(snapshot: date) -> date:
    """First day of the last bill month that ended on or before ``snapshot``."""
    first = snapshot.replace(day=1)
    return first if snapshot == month_end(snapshot) else add_months(first, -1)


#: the last valid day of an open-ended retention policy (``valid_to: open``) as published into
#: the operational database, whose ``valid_to`` is a date
OPEN_END = date(9999, 12, 31)


def shown_end(day: date) -> date | None:
    """A validity end to show: None (open-ended) for :data:`OPEN_END`, else ``day``."""
    return None if day >= OPEN_END else day
