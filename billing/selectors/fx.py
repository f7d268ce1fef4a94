"""Exchange rates: converting minor units of any currency into the reporting currency.

Amounts stay in their own currency in the ledger and on subscriptions; only totals that mix
currencies convert, with the `ExchangeRate` table entered in the admin. A rate is in force from
its `valid_from` day until the next rate of that currency. The current MRR converts with
today's rates, history with the rates in force on the day of each movement, and every total
says which (`basis`).

A currency without a rate is never taken as 1: its amount is left out of the converted total
and named in `missing_rates`, so that the page can warn about it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

from django.conf import settings
from django.db.models import BigIntegerField, Case, DecimalField, F, Value, When
from django.db.models.expressions import Expression
from django.db.models.functions import Cast, Round

from billing.models import ExchangeRate
from subsync.money import currency_exponent

BASIS_TODAY = "today"
BASIS_AT_MOVEMENT = "at the time of each movement"
BASIS_AT_MONTH_END = "at each month end"  # a balance at a moment, at the rate of that day

# Enough digits that neither a large amount nor a rate with 10 decimals is ever rounded
# before the one rounding at the end.
_PRECISION = 60


def reporting_currency() -> str:
    """The ISO code every converted total is expressed in (SUBSYNC_REPORTING_CURRENCY)."""
    return settings.SUBSYNC_REPORTING_CURRENCY.upper()


@dataclass(frozen=True)
class Rates:
    """The rates in force on `day`: units of the reporting currency per ONE unit of each
    currency. The reporting currency itself is always there, at 1."""

    reporting_currency: str
    day: date
    rates: Mapping[str, Decimal]
    # The day each rate took effect (the reporting currency has none).
    valid_from: Mapping[str, date] = field(default_factory=dict)

    @property
    def currencies(self) -> frozenset[str]:
        return frozenset(self.rates)

    def has(self, currency: str) -> bool:
        return currency in self.rates

    def rate(self, currency: str) -> Decimal | None:
        return self.rates.get(currency)


def rates_on(*, day: date) -> Rates:
    """The rate in force on `day` for each currency that has one (one query)."""
    return rate_history(until=day).on(day)


class RateHistory:
    """Every rate that took effect up to a day, read in one query, so that history can be
    converted at the rate in force on each day without a query per day."""

    def __init__(self, *, reporting_currency: str, rows: Iterable[tuple[str, date, Decimal]]):
        self.reporting_currency = reporting_currency
        self._days: dict[str, list[date]] = {}
        self._rates: dict[str, list[Decimal]] = {}
        self._on: dict[date, Rates] = {}  # asked for once per day and movement kind
        for currency, valid_from, rate in sorted(rows):
            self._days.setdefault(currency, []).append(valid_from)
            self._rates.setdefault(currency, []).append(rate)

    def on(self, day: date) -> Rates:
        if day not in self._on:
            self._on[day] = self._rates_on(day)
        return self._on[day]

    def periods(self) -> list[tuple[str, date, date | None, Decimal]]:
        """Each rate as (currency, first day, last day or None while in force, factor: minor
        units of the reporting currency per minor unit of the currency), for SQL that
        converts at the rate in force on each day (billing.selectors.converted)."""
        out = []
        for currency, days in self._days.items():
            for index, since in enumerate(days):
                until = days[index + 1] - timedelta(days=1) if index + 1 < len(days) else None
                out.append((currency, since, until, _factor(
                    rate=self._rates[currency][index], currency=currency,
                    reporting=self.reporting_currency)))
        return out

    def _rates_on(self, day: date) -> Rates:
        rates: dict[str, Decimal] = {}
        since: dict[str, date] = {}
        for currency, days in self._days.items():
            index = bisect.bisect_right(days, day) - 1
            if index >= 0:
                rates[currency] = self._rates[currency][index]
                since[currency] = days[index]
        # The reporting currency is worth exactly itself, whatever the table says.
        rates[self.reporting_currency] = Decimal(1)
        since.pop(self.reporting_currency, None)
        return Rates(reporting_currency=self.reporting_currency, day=day, rates=rates,
                     valid_from=since)


def rate_history(*, until: date) -> RateHistory:
    """All rates with valid_from <= `until` (one query; the table is small and hand-kept)."""
    rows = ExchangeRate.objects.filter(valid_from__lte=until).values_list(
        "currency", "valid_from", "rate"
    )
    return RateHistory(reporting_currency=reporting_currency(), rows=list(rows))


def _factor(*, rate: Decimal, currency: str, reporting: str) -> Decimal:
    """Reporting-currency minor units per ONE minor unit of `currency`."""
    with localcontext() as context:
        context.prec = _PRECISION
        return rate.scaleb(currency_exponent(reporting) - currency_exponent(currency))


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def convert(*, amount: int, currency: str, rates: Rates) -> int | None:
    """`amount` minor units of `currency` in minor units of the reporting currency, rounded
    half up (away from zero); None when there is no rate for `currency`."""
    rate = rates.rate(currency)
    if rate is None:
        return None
    with localcontext() as context:
        context.prec = _PRECISION
        factor = _factor(rate=rate, currency=currency, reporting=rates.reporting_currency)
        return _round(Decimal(amount) * factor)


@dataclass(frozen=True)
class MoneyTotal:
    """A total of amounts in several currencies, converted into the reporting currency.

    `amount` is the sum of `converted`: the amounts of every currency that had a rate, in
    minor units of `currency` (the reporting currency). Currencies without a rate are left out
    of it and named in `missing_rates`: `amount` is then a partial total that must be shown
    with the warning. `amount` is None only when something was missing and nothing at all
    could be converted. Zero amounts are left out everywhere (0 is 0 in any currency).
    """

    amount: int | None
    currency: str
    breakdown: dict[str, int]  # per original currency, its own minor units
    missing_rates: tuple[str, ...]
    basis: str  # BASIS_TODAY or BASIS_AT_MOVEMENT
    converted: dict[str, int] = field(default_factory=dict)  # per original currency, reporting

    @property
    def complete(self) -> bool:
        return not self.missing_rates

    @property
    def warning(self) -> str:
        """What the page says when a rate was missing ("" when none was)."""
        if not self.missing_rates:
            return ""
        return (f"No exchange rate for {', '.join(self.missing_rates)}: "
                f"left out of the total in {self.currency}.")

    def times(self, factor: int) -> MoneyTotal:
        """Every amount multiplied by `factor` (12 for ARR, -1 for a movement downwards)."""
        return replace(
            self, amount=None if self.amount is None else self.amount * factor,
            breakdown={code: amount * factor for code, amount in self.breakdown.items()},
            converted={code: amount * factor for code, amount in self.converted.items()},
        )


def total(*, amounts: Mapping[str, int], rates: Rates, basis: str) -> MoneyTotal:
    """Convert each currency's amount with `rates` and add them up (see MoneyTotal)."""
    breakdown = {currency: amount for currency, amount in sorted(amounts.items()) if amount}
    converted: dict[str, int] = {}
    missing: list[str] = []
    for currency, amount in breakdown.items():
        value = convert(amount=amount, currency=currency, rates=rates)
        if value is None:
            missing.append(currency)
        else:
            converted[currency] = value
    return _money_total(currency=rates.reporting_currency, breakdown=breakdown,
                        converted=converted, missing=missing, basis=basis)


def combine(*, totals: Iterable[MoneyTotal], currency: str, basis: str) -> MoneyTotal:
    """Several totals (e.g. one per day, each at that day's rates) added into one."""
    breakdown: dict[str, int] = {}
    converted: dict[str, int] = {}
    missing: set[str] = set()
    for part in totals:
        if part.currency != currency:
            raise ValueError(f"cannot add a total in {part.currency} to one in {currency}")
        for code, amount in part.breakdown.items():
            breakdown[code] = breakdown.get(code, 0) + amount
        for code, amount in part.converted.items():
            converted[code] = converted.get(code, 0) + amount
        missing.update(part.missing_rates)
    return _money_total(
        currency=currency, breakdown={c: a for c, a in sorted(breakdown.items()) if a},
        converted=dict(sorted(converted.items())), missing=missing, basis=basis,
    )


def _money_total(*, currency: str, breakdown: dict[str, int], converted: dict[str, int],
                 missing: Iterable[str], basis: str) -> MoneyTotal:
    missing_rates = tuple(sorted(set(missing)))
    amount = sum(converted.values()) if converted or not missing_rates else None
    return MoneyTotal(amount=amount, currency=currency, breakdown=breakdown,
                      missing_rates=missing_rates, basis=basis, converted=converted)


def converted_expression(field: str, *, rates: Rates,
                         currency_field: str = "currency") -> Expression:
    """An ORM expression: the minor-unit column `field` (in the currency of `currency_field`)
    in minor units of the reporting currency, rounded half up in SQL; NULL for a currency
    without a rate. For ordering and aggregating by converted amounts in the database.

    Exact on PostgreSQL (numeric); SQLite computes it in floating point, which may differ by
    a minor unit on an exact half.
    """
    decimal = DecimalField(max_digits=40, decimal_places=20)
    whens = []
    for currency, rate in sorted(rates.rates.items()):
        factor = _factor(rate=rate, currency=currency, reporting=rates.reporting_currency)
        if factor == 1:
            value = F(field)
        else:
            value = Cast(
                Round(Cast(F(field), decimal) * Value(factor, output_field=decimal)),
                BigIntegerField(),
            )
        whens.append(When(**{currency_field: currency}, then=value))
    return Case(*whens, default=Value(None), output_field=BigIntegerField())
