"""Sums of money per day and currency, converted into the reporting currency in the database.

Why: history converts at the rate in force on the day of each amount (fx.BASIS_AT_MOVEMENT),
so a year of churn is some 10,000 (key, day, currency) sums; converting them one by one in
Python took longer than the query that made them. Here the database converts each day's sum
with a CASE over the rate history (a handful of rates: currency, first day, last day) and adds
up the results per key and currency, so Python receives one row per key and currency.

The figures are those of fx.total() per day added up with fx.combine(): each (key, day,
currency) sum is converted and rounded half up once (exact numeric on PostgreSQL; SQLite
computes in floating point, as fx.converted_expression says), 0 needs no rate, and a currency
without a rate on a day is left out of the converted total and named in `missing_rates`,
never taken as 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection

from billing.selectors import fx


@dataclass(frozen=True)
class KeyTotal:
    """One key's converted total and its count of rows."""

    total: fx.MoneyTotal
    count: int


def _factor_case(history: fx.RateHistory) -> tuple[str, list]:
    """SQL: the factor (reporting minor units per minor unit) in force for the columns `day`
    and `currency`, NULL for a currency without a rate on that day."""
    whens, params = [], []
    adapt = connection.ops.adapt_datefield_value
    reporting = history.reporting_currency
    for currency, since, until, factor in history.periods():
        if currency == reporting:
            continue
        whens.append("WHEN currency = %s AND day >= %s"
                     + (" AND day <= %s" if until else "") + " THEN %s")
        params += [currency, adapt(since), *([adapt(until)] if until else []), factor]
    # The reporting currency is worth exactly itself, whatever the table says.
    whens.insert(0, "WHEN currency = %s THEN 1")
    params.insert(0, reporting)
    return f"CASE {' '.join(whens)} ELSE NULL END", params


def converted_totals(*, sql: str, params: Sequence, keys: Sequence[str],
                     history: fx.RateHistory) -> dict[tuple, KeyTotal]:
    """The rows of `sql` (columns: each of `keys`, `day`, `currency`, `amount`, `n`: sums per
    key, day and currency) converted at each day's rates and added up per key (one query).

    Returns {tuple of the key columns' values: KeyTotal}; a key whose amounts are all 0 is
    there with a total of 0."""
    factor, factor_params = _factor_case(history)
    names = ", ".join(keys)
    wrapped = (
        f"SELECT {names}, currency, SUM(amount), SUM(n),"  # noqa: S608 (names only)
        f" SUM(CASE WHEN amount <> 0 THEN ROUND(amount * factor) END),"
        f" MAX(CASE WHEN amount <> 0 AND factor IS NULL THEN 1 ELSE 0 END)"
        f" FROM (SELECT per_day.*, {factor} AS factor FROM ({sql}) per_day) converted"
        f" GROUP BY {names}, currency"
    )
    parts: dict[tuple, list[fx.MoneyTotal]] = {}
    counts: dict[tuple, int] = {}
    reporting = history.reporting_currency
    with connection.cursor() as cursor:
        cursor.execute(wrapped, [*factor_params, *params])
        for *key_values, currency, amount, n, value, missing in cursor.fetchall():
            key = tuple(key_values)
            counts[key] = counts.get(key, 0) + int(n or 0)
            parts.setdefault(key, []).append(fx.MoneyTotal(
                amount=None, currency=reporting, breakdown={currency: int(amount or 0)},
                converted={} if value is None else {currency: int(value)},
                missing_rates=(currency,) if missing else (), basis=fx.BASIS_AT_MOVEMENT))
    return {key: KeyTotal(total=fx.combine(totals=totals, currency=reporting,
                                           basis=fx.BASIS_AT_MOVEMENT), count=counts[key])
            for key, totals in parts.items()}
