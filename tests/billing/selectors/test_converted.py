"""Sums per day and currency converted in SQL (billing.selectors.converted): each day's sum at
the rate in force that day, rounded half up once, a missing rate named and never taken as 1.

Rates (reporting currency USD): EUR 1.10 until 31 Jan 2027, 1.20 from 1 Feb 2027; JPY 0.0067
from 10 Jan 2027 (none before); a USD row of 2 in the table, which must be ignored; no GBP.
"""

from __future__ import annotations

import datetime as dt

import pytest

from billing.selectors import converted, fx
from tests.billing.selectors.factories import rate

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(settings):
    settings.SUBSYNC_REPORTING_CURRENCY = "USD"
    rate("EUR", "1.10")
    rate("EUR", "1.20", since=dt.date(2027, 2, 1))
    rate("JPY", "0.0067", since=dt.date(2027, 1, 10))
    rate("USD", "2")
    return fx.rate_history(until=dt.date(2027, 12, 31))


def totals(history, rows):
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(rows))
    sql = (f"SELECT k, CAST(d AS DATE) AS day, currency, amount, n"  # noqa: S608 (placeholders)
           f" FROM (VALUES {values}) AS t (k, d, currency, amount, n)")
    params = [value for row in rows for value in row]
    return converted.converted_totals(sql=sql, params=params, keys=("k",), history=history)


def test_each_days_sum_at_that_days_rate(history):
    result = totals(history, [
        ("a", "2027-01-31", "EUR", 1005, 1),  # 1105.5 -> 1106
        ("a", "2027-02-01", "EUR", 1005, 2),  # 1206
        ("a", "2027-01-05", "USD", 500, 1),  # the reporting currency is 1, whatever the table
    ])
    total = result[("a",)].total
    assert (total.amount, total.breakdown, total.converted) == (
        2812, {"EUR": 2010, "USD": 500}, {"EUR": 2312, "USD": 500})
    assert (total.missing_rates, total.basis) == ((), fx.BASIS_AT_MOVEMENT)
    assert result[("a",)].count == 4


def test_rounded_once_per_day_not_once_per_key(history):
    # EUR 0.05 on two days at 1.10: 5.5 cents, rounded half up each day: 6 + 6.
    result = totals(history, [("d", "2027-01-02", "EUR", 5, 1), ("d", "2027-01-03", "EUR", 5, 1)])
    assert result[("d",)].total.amount == 12


def test_a_missing_rate_is_named_and_left_out_never_one(history):
    result = totals(history, [
        ("b", "2027-01-05", "GBP", 300, 1),  # no GBP rate at all
        ("b", "2027-01-09", "JPY", 10_000, 1),  # the day before JPY's first rate
        ("b", "2027-01-10", "JPY", 10_000, 1),  # 10000 yen at 0.0067 = $67.00
    ])
    total = result[("b",)].total
    assert (total.amount, total.converted, total.breakdown) == (
        6_700, {"JPY": 6_700}, {"GBP": 300, "JPY": 20_000})
    assert total.missing_rates == ("GBP", "JPY")


def test_nothing_convertible_is_no_amount_and_zero_needs_no_rate(history):
    result = totals(history, [("c", "2027-01-05", "GBP", 300, 1),
                              ("z", "2027-01-05", "GBP", 0, 2)])
    assert (result[("c",)].total.amount, result[("c",)].total.missing_rates) == (None, ("GBP",))
    zero = result[("z",)]
    assert (zero.total.amount, zero.total.missing_rates, zero.count) == (0, (), 2)


def test_the_same_figures_as_converting_each_day_in_python(history):
    rows = [("k", f"2027-0{month}-{day:02d}", currency, amount, 1)
            for month in (1, 2) for day in (3, 9, 10, 28)
            for currency, amount in (("EUR", 1_234_567 + day), ("JPY", 99_999 + 3 * day),
                                     ("USD", 700 + day), ("GBP", 5))]
    expected = fx.combine(totals=[
        fx.total(amounts={currency: amount}, rates=history.on(dt.date.fromisoformat(day)),
                 basis=fx.BASIS_AT_MOVEMENT) for _, day, currency, amount, _ in rows],
        currency="USD", basis=fx.BASIS_AT_MOVEMENT)
    assert totals(history, rows)[("k",)].total == expected
