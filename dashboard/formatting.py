"""How the dashboard writes money, rates and times: pure functions, tested on their own.

Money arrives as integer minor units plus an ISO code. Tiles show whole units, tables show the
currency's own decimals; thousands are separated; negative amounts carry a real minus sign.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from subsync.money import currency_exponent

# Symbols people recognise at a glance; any other currency is written with its ISO code.
SYMBOLS = {
    "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "KRW": "₩", "BRL": "R$",
    "CAD": "CA$", "AUD": "A$", "NZD": "NZ$", "MXN": "MX$", "CHF": "CHF\u00a0",
    "SEK": "SEK\u00a0", "NOK": "NOK\u00a0", "DKK": "DKK\u00a0", "PLN": "PLN\u00a0",
}
MINUS = "\u2212"
DASH = "\u2013"


def major_units(amount: int, currency: str) -> Decimal:
    """`amount` minor units as an exact Decimal of major units."""
    return Decimal(amount).scaleb(-currency_exponent(currency))


def format_money(amount: int | None, currency: str, *, whole: bool = False,
                 signed: bool = False) -> str:
    """e.g. 123456 USD -> "$1,234.56"; whole=True -> "$1,235"; None -> a dash."""
    if amount is None:
        return DASH
    code = (currency or "").upper()
    places = 0 if whole else currency_exponent(code)
    value = major_units(amount, code).quantize(Decimal(1).scaleb(-places),
                                               rounding=ROUND_HALF_UP)
    sign = MINUS if value < 0 else ("+" if signed and value > 0 else "")
    number = f"{abs(value):,.{places}f}"
    symbol = SYMBOLS.get(code)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number}\u00a0{code}"


def format_rate(value: Decimal | float | None, *, places: int = 1) -> str:
    """A ratio (0.025) as a percentage ("2.5 %"); None (denominator 0) as a dash."""
    if value is None:
        return DASH
    percent = (Decimal(str(value)) * 100).quantize(Decimal(1).scaleb(-places),
                                                   rounding=ROUND_HALF_UP)
    sign = MINUS if percent < 0 else ""
    return f"{sign}{abs(percent)}\u00a0%"


def format_count(value: int | None) -> str:
    return DASH if value is None else f"{value:,}"
