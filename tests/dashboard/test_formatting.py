"""Money, rates and counts as the dashboard writes them."""

from decimal import Decimal

import pytest

from dashboard.formatting import format_count, format_money, format_rate


@pytest.mark.parametrize(("amount", "currency", "kwargs", "expected"), [
    (123456, "USD", {}, "$1,234.56"),
    (123456, "USD", {"whole": True}, "$1,235"),
    (123449, "USD", {"whole": True}, "$1,234"),
    (-5000, "EUR", {}, "\u2212€50.00"),
    (5000, "EUR", {"whole": True, "signed": True}, "+€50"),
    (0, "GBP", {"signed": True}, "£0.00"),
    (1234567, "JPY", {}, "¥1,234,567"),
    (1234567, "KWD", {}, "1,234.567\u00a0KWD"),
    (100, "usd", {}, "$1.00"),
    (250000, "CHF", {}, "CHF\u00a02,500.00"),
    (None, "USD", {}, "\u2013"),
])
def test_money(amount, currency, kwargs, expected):
    assert format_money(amount, currency, **kwargs) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (Decimal("0.025"), "2.5\u00a0%"),
    (Decimal("-0.01"), "\u22121.0\u00a0%"),
    (Decimal("1.1"), "110.0\u00a0%"),
    (0.0, "0.0\u00a0%"),
    (None, "\u2013"),
])
def test_rate(value, expected):
    assert format_rate(value) == expected


def test_count():
    assert format_count(1234567) == "1,234,567"
    assert format_count(None) == "\u2013"
