"""Monthly recurring revenue of one subscription: pure functions, no database.

The rules (docs/metrics.md): normalise each recurring amount to a month (annual / 12, every N
months / N, weekly * 52 / 12, daily * 365 / 12); trials, paused, future, cancelled and expired
subscriptions count 0; active, past_due and non_renewing count. Taxes and one-off charges never
count. Results are integers in minor units, rounded half up once at the end.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from billing.normalized import NormalizedItem, PeriodUnit, Status

COUNTING_STATUSES = frozenset({Status.ACTIVE, Status.PAST_DUE, Status.NON_RENEWING})

# How many of a unit make one month, as an exact fraction.
_PER_MONTH = {
    PeriodUnit.DAY: Fraction(365, 12),
    PeriodUnit.WEEK: Fraction(52, 12),
    PeriodUnit.MONTH: Fraction(1),
    PeriodUnit.YEAR: Fraction(1, 12),
}


def _round_half_up(value: Fraction) -> int:
    return int((value * 2 + 1) // 2) if value >= 0 else -int((-value * 2 + 1) // 2)


def monthly_fraction(amount: int, *, period: int, unit: PeriodUnit | str) -> Fraction:
    """Exact monthly equivalent of `amount` billed every `period` `unit`s."""
    if period < 1:
        raise ValueError(f"billing period must be at least 1, got {period}")
    return Fraction(amount) * _PER_MONTH[PeriodUnit(unit)] / period


def monthly_amount(amount: int, *, period: int, unit: PeriodUnit | str) -> int:
    """`amount` (minor units per billing period) normalised to a month, rounded half up."""
    return _round_half_up(monthly_fraction(amount, period=period, unit=unit))


def items_mrr(
    items: Iterable[NormalizedItem], *, period: int, unit: PeriodUnit | str
) -> int:
    """MRR of recurring items: plans and add-ons minus discounts, never below zero."""
    total = Fraction(0)
    for item in items:
        if not item.recurring or item.kind == "charge":
            continue
        sign = -1 if item.kind == "discount" else 1
        total += sign * monthly_fraction(item.amount, period=period, unit=unit)
    return max(0, _round_half_up(total))


def counts_towards_mrr(status: Status | str) -> bool:
    return Status(status) in COUNTING_STATUSES


def effective_mrr(status: Status | str, monthly: int) -> int:
    """The MRR a subscription contributes given its status (0 unless it counts)."""
    return monthly if counts_towards_mrr(status) else 0
