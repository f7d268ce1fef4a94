"""Money helpers shared by both apps: subsync stores integer minor units plus an ISO code.

Providers send major units (Braintree's decimal strings), Salesforce wants major units, and the
dashboard formats them: all need the number of minor units of a currency (ISO 4217 exponent).
Most have 2, but JPY or KRW have none and BHD or KWD have 3, so a fixed `* 100` would be wrong
by 100x or 10x.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 currencies whose exponent is not 2 (the rest, the vast majority, use 2).
_EXPONENTS = {
    **dict.fromkeys(
        (
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
            "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point for `currency` (2 when unknown or empty)."""
    return _EXPONENTS.get((currency or "").upper(), 2)


def to_minor_units(amount: Decimal | str | int | float | None, *, currency: str) -> int:
    """`amount` in major units as an integer of minor units, rounded half up.

    None and "" count as 0: Braintree leaves optional amounts empty rather than "0.00".
    """
    if amount is None or amount == "":
        return 0
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {amount!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not an amount: {amount!r}")
    scaled = value.scaleb(currency_exponent(currency))
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))
