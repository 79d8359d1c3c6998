"""Numbers, money, percentages and times as the current language writes them (Babel)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel import dates, numbers

from weiwan.ops.base import as_utc
from weiwan.web.i18n import current_locale

EMPTY = "—"


def format_number(value: float | int | None, digits: int = 0) -> str:
    """``1,234,567`` / ``1,234.5`` in the current locale; ``—`` for no value."""
    if value is None:
        return EMPTY
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return numbers.format_decimal(value, format=pattern, locale=current_locale())


def format_percent(value: float | None, digits: int = 1) -> str:
    """A share (0.253) as ``25.3%``; ``—`` for no value."""
    if value is None:
        return EMPTY
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return numbers.format_percent(value, format=pattern, locale=current_locale())


def format_money(value: float | int | None, digits: int = 0) -> str:
    """Yuan as ``¥1,234`` (zh-CN) or ``CN¥1,234`` (en); ``—`` for no value."""
    if value is None:
        return EMPTY
    pattern = "¤#,##0" + ("." + "0" * digits if digits else "")
    return numbers.format_currency(
        value, "CNY", format=pattern, locale=current_locale(), currency_digits=False
    )


def format_date(value: date | datetime | None, form: str = "medium") -> str:
    """A date as the locale writes it (``2026年11月24日`` / ``Nov 24, 2026``)."""
    if value is None:
        return EMPTY
    if isinstance(value, datetime):
        value = value.date()
    return dates.format_date(value, format=form, locale=current_locale())


def format_datetime(value: datetime | None, tz: ZoneInfo, form: str = "short") -> str:
    """A moment in the centre's time zone ``tz`` as the locale writes it."""
    if value is None:
        return EMPTY
    local = as_utc(value).astimezone(tz)
    return dates.format_datetime(local, format=form, tzinfo=tz, locale=current_locale())


def format_period(kind: str, key: str, start: date | None = None) -> str:
    """A report period as the locale says it: 2026年第48周 / Week 48, 2026 for ``week``
    ``2026-W48``; 2026年10月 / October 2026 for ``month`` (from ``start``, its first day);
    the key itself otherwise."""
    chinese = current_locale().language == "zh"
    if kind == "week" and "-W" in key:
        year, week = key.split("-W", 1)
        if chinese:
            return f"{year}年第{int(week)}周"
        return f"Week {int(week)}, {year}"
    if kind in ("month", "churn") and start is not None:
        return dates.format_skeleton("yMMMM", start, locale=current_locale())
    return key
