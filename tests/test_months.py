"""subsync.months: whole months and quarters, with the expected days written from the
calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from subsync.months import add_months, month_start, quarter_start


@pytest.mark.parametrize(("day", "months", "expected"), [
    (date(2027, 1, 15), 1, date(2027, 2, 15)),
    (date(2027, 1, 31), 1, date(2027, 2, 28)),
    (date(2028, 1, 31), 1, date(2028, 2, 29)),  # a leap year
    (date(2027, 3, 31), -1, date(2027, 2, 28)),
    (date(2027, 11, 30), 3, date(2028, 2, 29)),
    (date(2027, 1, 10), -1, date(2026, 12, 10)),
    (date(2027, 5, 31), -24, date(2025, 5, 31)),
    (date(2027, 5, 31), 0, date(2027, 5, 31)),
])
def test_add_months_clamps_to_the_last_day(day, months, expected):
    assert add_months(day, months) == expected


def test_add_months_keeps_a_datetimes_time_and_zone():
    moment = datetime(2027, 8, 31, 9, 30, tzinfo=UTC)
    assert add_months(moment, 1) == datetime(2027, 9, 30, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(("day", "offset", "expected"), [
    (date(2027, 5, 17), 0, date(2027, 5, 1)),
    (date(2027, 5, 31), 1, date(2027, 6, 1)),
    (date(2027, 1, 1), -1, date(2026, 12, 1)),
    (date(2027, 12, 25), 1, date(2028, 1, 1)),
    (date(2027, 3, 3), -14, date(2026, 1, 1)),
])
def test_month_start(day, offset, expected):
    assert month_start(day, offset=offset) == expected


@pytest.mark.parametrize(("day", "offset", "expected"), [
    (date(2027, 1, 1), 0, date(2027, 1, 1)),
    (date(2027, 3, 31), 0, date(2027, 1, 1)),
    (date(2027, 4, 1), 0, date(2027, 4, 1)),
    (date(2027, 8, 15), 0, date(2027, 7, 1)),
    (date(2027, 12, 31), 0, date(2027, 10, 1)),
    (date(2027, 11, 5), 1, date(2028, 1, 1)),
    (date(2027, 2, 5), -1, date(2026, 10, 1)),
    (date(2027, 2, 5), 5, date(2028, 4, 1)),
])
def test_quarter_start(day, offset, expected):
    assert quarter_start(day, offset=offset) == expected


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)),
       st.integers(min_value=-600, max_value=600))
def test_months_there_and_back_land_on_the_same_month(day, months):
    moved = add_months(day, months)
    assert (moved.year * 12 + moved.month) - (day.year * 12 + day.month) == months
    assert moved.day == day.day or moved.day < day.day  # clamped, never pushed forward
    assert month_start(day, offset=months) == moved.replace(day=1)
    assert quarter_start(day).month in (1, 4, 7, 10) and quarter_start(day) <= day
