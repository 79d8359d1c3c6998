"""Month arithmetic: the day whose window of whole months has ended by a snapshot."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from weiwan.core.months import add_months, window_closed_by


@pytest.mark.parametrize(
    ("snapshot", "months", "closed_by"),
    [
        (date(2026, 11, 30), 3, date(2026, 8, 31)),  # 31 Aug + 3 months = 30 Nov
        (date(2027, 2, 28), 3, date(2026, 11, 30)),  # 29 and 30 Nov clip to 28 Feb
        (date(2028, 2, 28), 3, date(2027, 11, 28)),  # not the month end of a leap year
        (date(2026, 10, 31), 3, date(2026, 7, 31)),
        (date(2026, 11, 15), 3, date(2026, 8, 15)),
    ],
)
def test_the_last_day_whose_window_has_ended(snapshot: date, months: int, closed_by: date) -> None:
    assert window_closed_by(snapshot, months) == closed_by


def test_every_day_up_to_it_and_none_after_has_its_window_ended() -> None:
    """Against the definition, over three years of snapshots and windows of 1 to 12 months."""
    day = date(2026, 1, 1)
    while day < date(2029, 1, 1):
        for months in (1, 3, 12):
            last = window_closed_by(day, months)
            assert add_months(last, months) <= day
            after = last + timedelta(days=1)
            assert add_months(after, months) > day
        day += timedelta(days=1)
