"""Calendar months and quarters: moving a day by whole months, and where a month or a quarter
starts. Small pure functions, so that every page, report and the demo data count months the
same way (UTC days; the callers choose the day).
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import TypeVar

Day = TypeVar("Day", bound=date)  # a date, or a datetime (its time and zone are kept)


def add_months(day: Day, months: int) -> Day:
    """`day` moved by whole months (back when negative), the day of the month clamped to the
    target month's last day, as providers bill: 31 Jan + 1 month is 28 (or 29) Feb."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return day.replace(year=year, month=month,
                       day=min(day.day, calendar.monthrange(year, month)[1]))


def month_start(day: date, *, offset: int = 0) -> date:
    """The first day of the month of `day`, moved by `offset` months."""
    return add_months(date(day.year, day.month, 1), offset)


def quarter_start(day: date, *, offset: int = 0) -> date:
    """The first day of the calendar quarter of `day` (Jan, Apr, Jul, Oct), moved by `offset`
    quarters."""
    return month_start(date(day.year, (day.month - 1) // 3 * 3 + 1, 1), offset=3 * offset)
