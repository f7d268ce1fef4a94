"""The ledger rows behind the MRR movement figures: which customers were new, expanded,
contracted, churned or came back in a period, and how much each moved.

Every figure on the overview's movement chart links here, so a number can always be checked
against the rows it adds up. Totals use the same conversion as the chart: each row's amount at
the rate in force on its day (summed per day and currency by LedgerDay, unless a provider is
chosen: LedgerDay does not tell providers apart).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from billing.models import LedgerDay, Movement, SubscriptionChange
from billing.selectors import fx
from billing.selectors.churn import ChurnFilters, DailySums, grouped_by_day
from billing.selectors.params import Page, PageRequest, Reader, paginate
from billing.selectors.renewals import customer_name_of

KINDS = tuple(kind.value for kind in Movement if kind != Movement.NONE)


@dataclass(frozen=True)
class MovementFilters:
    """A period of months (as the churn page reads it), one movement kind or all, a provider."""

    period: ChurnFilters
    movement: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, Any] | None, *, today: dt.date) -> MovementFilters:
        """Parameters: from, to (YYYY-MM; default the last 12 months), provider, movement."""
        reader = Reader(query)
        movement = reader.choice("movement", KINDS)
        reader.done()
        return cls(period=ChurnFilters.from_query(query, today=today), movement=movement)


@dataclass(frozen=True)
class MovementRow:
    change_id: int
    occurred_at: dt.datetime
    movement: str
    amount: int  # minor units of `currency`, >= 0; contraction and churn are losses
    currency: str
    subscription_id: int
    provider: str
    external_id: str
    plan_id: str
    status_before: str
    status_after: str
    customer_id: int
    customer_name: str
    customer_mrr_before: int
    customer_mrr_after: int


@dataclass(frozen=True)
class MovementList:
    filters: MovementFilters
    rows: Page[MovementRow]
    totals: dict[str, fx.MoneyTotal]  # per movement kind, converted at each day's rate
    counts: dict[str, int]

    @property
    def warnings(self) -> list[str]:
        return sorted({total.warning for total in self.totals.values() if total.warning})


def _selected(filters: MovementFilters):
    start, end = filters.period.bounds()
    rows = SubscriptionChange.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    if filters.period.provider:
        rows = rows.filter(subscription__provider=filters.period.provider)
    # Named kinds rather than "not none": the ledger's (movement, occurred_at) index serves it.
    return rows.filter(movement__in=[filters.movement] if filters.movement else KINDS)


def list_movements(*, filters: MovementFilters, page: PageRequest) -> MovementList:
    """A page of movements, newest first, and each kind's total over the whole period (four
    queries whatever the period holds)."""
    selected = _selected(filters)
    start, end = filters.period.bounds()
    last_day = end.date() - dt.timedelta(days=1)
    sums = DailySums(fx.rate_history(until=last_day))
    kinds = [filters.movement] if filters.movement else list(KINDS)
    if filters.period.provider:
        for row in grouped_by_day(selected, "movement", "movement_amount"):
            sums.add(row["movement"], day=row["day"], currency=row["currency"],
                     amount=row["amount"] or 0, count=row["n"])
    else:  # the same sums, kept per day and currency by the ledger's writer
        for day in LedgerDay.objects.filter(day__gte=start.date(), day__lte=last_day):
            for kind in kinds:
                count = getattr(day, f"{kind}_count")
                if count:
                    sums.add(kind, day=day.day, currency=day.currency,
                             amount=getattr(day, f"{kind}_amount"), count=count)
    rows = selected.order_by("-occurred_at", "-id").values(
        "id", "occurred_at", "movement", "movement_amount", "currency", "subscription_id",
        "subscription__provider", "subscription__external_id", "subscription__plan_id",
        "status_before", "status_after", "customer_id", "customer__company",
        "customer__first_name", "customer__last_name", "customer__email",
        "customer__external_id", "customer_mrr_before", "customer_mrr_after")
    # Without a provider LedgerDay's counts are the number of rows selected: no count of a
    # year of ledger rows.
    total = None if filters.period.provider else sum(sums.counts.get(kind, 0) for kind in kinds)
    return MovementList(
        filters=filters,
        rows=paginate(rows, page=page, convert=_row, total=total),
        totals={kind: sums.total(kind) for kind in kinds},
        counts={kind: sums.counts.get(kind, 0) for kind in kinds},
    )


def _row(v: dict) -> MovementRow:
    return MovementRow(
        change_id=v["id"], occurred_at=v["occurred_at"], movement=v["movement"],
        amount=v["movement_amount"], currency=v["currency"],
        subscription_id=v["subscription_id"], provider=v["subscription__provider"],
        external_id=v["subscription__external_id"], plan_id=v["subscription__plan_id"],
        status_before=v["status_before"], status_after=v["status_after"],
        customer_id=v["customer_id"], customer_name=customer_name_of(v),
        customer_mrr_before=v["customer_mrr_before"], customer_mrr_after=v["customer_mrr_after"])
