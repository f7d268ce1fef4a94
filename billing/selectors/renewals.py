"""Renewals due in a window: who renews (or leaves) this quarter, next quarter, or in a range.

The renewal date is the contract term end when the provider has one (a Chargebee contract
term), else the current term end: computed in SQL (`renewal_at`), so windows, filters and
ordering all run in the database. Subscriptions that renew or end count: active, past_due
(flagged) and non_renewing (flagged as "ending": it leaves at that date unless saved). Trials
are not renewals (metrics.md: they count 0 until they convert).

Customers are ordered by their MRR at stake in the reporting currency, biggest first, with
today's rates (current MRR, basis "today"). A currency without a rate is never taken as 1:
its subscriptions sort after every converted customer and the report names the currency.

Windows are [start, end) in UTC days. The grouped report pages by customer (every row of a
customer on the same page); `renewal_rows` is the same query as a flat list in the same order,
for the CSV export and the API. Neither issues more queries for more rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, Sum
from django.db.models import Window as Over
from django.db.models.functions import Coalesce

from billing.models import ACTIVE_STATUSES, Customer, Subscription
from billing.normalized import PeriodUnit, Provider, Status
from billing.selectors import fx
from billing.selectors.params import Page, PageRequest, Reader
from subsync.money import to_minor_units
from subsync.months import quarter_start

# The statuses that renew or end at the term's end: the ones that count as active.
RENEWING_STATUSES = ACTIVE_STATUSES
WINDOW_THIS_QUARTER = "this_quarter"
WINDOW_NEXT_QUARTER = "next_quarter"
WINDOW_RANGE = "range"
# Largest window a chosen range may span: a bound on the work one request can ask for.
MAX_RANGE_DAYS = 3 * 366


def renewal_at():
    """The renewal moment as an SQL expression: contract term end, else current term end."""
    return Coalesce("contract_term_end", "current_term_end")


def period_at_least(months: int) -> Q:
    """Subscriptions billed every `months` months or longer, compared exactly in SQL.

    A period is `billing_period` x unit; in months a year is 12, a week 12/52 and a day
    12/365 (mrr.py's factors), so "period >= m months" is compared in whole numbers as the
    least whole `billing_period` per unit: years ceil(m/12), months m, weeks ceil(52m/12),
    days ceil(365m/12).
    """
    # unit: (a, b) with "period units >= m months" <=> period * a >= m * b
    factors = {PeriodUnit.YEAR: (12, 1), PeriodUnit.MONTH: (1, 1),
               PeriodUnit.WEEK: (12, 52), PeriodUnit.DAY: (12, 365)}
    query = Q()
    for unit, (a, b) in factors.items():
        query |= Q(billing_period_unit=unit.value, billing_period__gte=-(-months * b // a))
    return query


@dataclass(frozen=True)
class Window:
    """UTC days [start, end)."""

    start: dt.date
    end: dt.date
    name: str = WINDOW_RANGE  # this_quarter, next_quarter or range

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        return (dt.datetime.combine(self.start, dt.time.min, tzinfo=dt.UTC),
                dt.datetime.combine(self.end, dt.time.min, tzinfo=dt.UTC))


def quarter_window(*, today: dt.date, offset: int = 0) -> Window:
    """The calendar quarter containing `today`, moved by `offset` quarters."""
    start = quarter_start(today, offset=offset)
    end = quarter_start(today, offset=offset + 1)
    name = {0: WINDOW_THIS_QUARTER, 1: WINDOW_NEXT_QUARTER}.get(offset, WINDOW_RANGE)
    return Window(start=start, end=end, name=name)


def this_quarter(*, today: dt.date) -> Window:
    return quarter_window(today=today)


def next_quarter(*, today: dt.date) -> Window:
    return quarter_window(today=today, offset=1)


def range_window(*, start: dt.date, end: dt.date) -> Window:
    """A chosen range, `end` excluded."""
    if end <= start:
        raise ValueError("a window must end after it starts")
    return Window(start=start, end=end)


@dataclass(frozen=True)
class RenewalFilters:
    """What the renewals page and the API filter on.

    `min_mrr` is in MAJOR units of the REPORTING currency, compared with each subscription's
    MRR converted at today's rates: one threshold means the same across currencies ("over
    $1k"). A subscription whose currency has no rate cannot be compared and is left out while
    `min_mrr` is set (the report warns, naming the currency). `min_period_months` keeps
    subscriptions billed every that many months or longer (12: yearly and longer).
    """

    window: Window
    provider: str = ""
    plan: str = ""
    currency: str = ""
    statuses: tuple[str, ...] = ()  # empty: all of RENEWING_STATUSES
    min_mrr: Decimal | None = None
    min_period_months: int | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, Any] | None, *, today: dt.date) -> RenewalFilters:
        """Parameters: window (this_quarter, the default; next_quarter; range), from and to
        (YYYY-MM-DD, both included; giving them implies range), provider, plan, currency,
        status (repeated or comma-separated), min_mrr, min_period_months."""
        reader = Reader(query)
        name = reader.choice("window", [WINDOW_THIS_QUARTER, WINDOW_NEXT_QUARTER, WINDOW_RANGE])
        start, last = reader.date("from"), reader.date("to")
        window = this_quarter(today=today)
        if name == WINDOW_NEXT_QUARTER:
            window = next_quarter(today=today)
        elif name == WINDOW_RANGE or start or last:
            if not (start and last):
                reader.fail("from" if not start else "to", "a range needs both from and to")
            elif last < start:
                reader.fail("to", "must not be before from")
            elif (last - start).days >= MAX_RANGE_DAYS:
                reader.fail("to", f"a range may span at most {MAX_RANGE_DAYS} days")
            else:
                window = range_window(start=start, end=last + dt.timedelta(days=1))
        currency = reader.text("currency", max_length=3).upper()
        if currency and not (len(currency) == 3 and currency.isalpha()):
            reader.fail("currency", "must be a three-letter ISO code such as EUR")
        filters = cls(
            window=window,
            provider=reader.choice("provider", [p.value for p in Provider]),
            plan=reader.text("plan"),
            currency=currency,
            statuses=reader.choices("status", RENEWING_STATUSES),
            min_mrr=reader.amount("min_mrr"),
            min_period_months=reader.integer("min_period_months", minimum=1, maximum=1200),
        )
        reader.done()
        return filters


@dataclass(frozen=True)
class RenewalRow:
    subscription_id: int
    provider: str
    external_id: str
    customer_id: int
    customer_name: str
    plan_id: str
    mrr: int  # minor units of `currency`
    currency: str
    mrr_converted: int | None  # minor units of the reporting currency; None: no rate
    renewal_at: dt.datetime
    status: str
    sf_contract_id: str  # "" until the Contract exists in Salesforce

    @property
    def ending(self) -> bool:
        """Non-renewing: the subscription ends at `renewal_at` rather than renewing."""
        return self.status == Status.NON_RENEWING

    @property
    def past_due(self) -> bool:
        return self.status == Status.PAST_DUE


@dataclass(frozen=True)
class CustomerRenewals:
    customer_id: int
    customer_name: str
    subtotal: fx.MoneyTotal  # the customer's MRR at stake in the window
    rows: tuple[RenewalRow, ...]


@dataclass(frozen=True)
class RenewalReport:
    filters: RenewalFilters
    groups: Page[CustomerRenewals]  # a page of customers; `total` = customers in all
    customers: int
    subscriptions: int
    mrr_at_stake: fx.MoneyTotal  # every matching subscription, not only this page
    rates_day: dt.date
    # Currencies left out by min_mrr because they have no rate (they could not be compared).
    uncompared_currencies: tuple[str, ...] = ()

    @property
    def warnings(self) -> list[str]:
        out = [self.mrr_at_stake.warning] if self.mrr_at_stake.warning else []
        if self.uncompared_currencies:
            out.append(f"No exchange rate for {', '.join(self.uncompared_currencies)}: "
                       "those subscriptions cannot be compared with the minimum MRR and are "
                       "not listed.")
        return out


_ROW_FIELDS = ("id", "provider", "external_id", "customer_id", "plan_id", "mrr", "currency",
               "mrr_converted", "renewal_at", "status", "sf_contract_id", "customer__company",
               "customer__first_name", "customer__last_name", "customer__email",
               "customer__external_id")


def _matching(filters: RenewalFilters, *, rates: fx.Rates, with_minimum: bool = True):
    start, end = filters.window.bounds()
    query = Q(status__in=RENEWING_STATUSES, deleted_at__isnull=True)
    if filters.statuses:
        query &= Q(status__in=filters.statuses)
    if filters.provider:
        query &= Q(provider=filters.provider)
    if filters.plan:
        query &= Q(plan_id=filters.plan)
    if filters.currency:
        query &= Q(currency=filters.currency)
    if filters.min_period_months:
        query &= period_at_least(filters.min_period_months)
    rows = (Subscription.objects.filter(query)
            .annotate(renewal_at=renewal_at(),
                      mrr_converted=fx.converted_expression("mrr", rates=rates))
            .filter(renewal_at__gte=start, renewal_at__lt=end))
    if filters.min_mrr is not None and with_minimum:
        least = to_minor_units(filters.min_mrr, currency=rates.reporting_currency)
        rows = rows.filter(mrr_converted__gte=least)
    return rows


def customer_name_of(row: dict) -> str:
    """Customer.display_name of a row read with the customer__ fields of _ROW_FIELDS."""
    return Customer(company=row["customer__company"], first_name=row["customer__first_name"],
                    last_name=row["customer__last_name"], email=row["customer__email"],
                    external_id=row["customer__external_id"]).display_name


def _row(values: dict) -> RenewalRow:
    return RenewalRow(
        subscription_id=values["id"], provider=values["provider"],
        external_id=values["external_id"], customer_id=values["customer_id"],
        customer_name=customer_name_of(values), plan_id=values["plan_id"], mrr=values["mrr"],
        currency=values["currency"], mrr_converted=values["mrr_converted"],
        renewal_at=values["renewal_at"], status=values["status"],
        sf_contract_id=values["sf_contract_id"] or "",
    )


def _rows(queryset):
    return queryset.annotate(sf_contract_id=F("contract_sync__sf_contract_id")).values(
        *_ROW_FIELDS)


def _by_currency(rows) -> tuple[dict[str, int], int]:
    """(minor units per currency, subscriptions) of a queryset, one grouped query."""
    amounts: dict[str, int] = {}
    count = 0
    for row in rows.order_by().values("currency").annotate(mrr=Sum("mrr"), n=Count("id")):
        amounts[row["currency"]] = row["mrr"] or 0
        count += row["n"]
    return amounts, count


def _uncompared(filters: RenewalFilters, *, rates: fx.Rates) -> tuple[str, ...]:
    if filters.min_mrr is None:
        return ()
    currencies = (_matching(filters, rates=rates, with_minimum=False)
                  .exclude(currency__in=list(rates.currencies))
                  .order_by("currency").values_list("currency", flat=True).distinct())
    return tuple(currencies)


def renewals(*, filters: RenewalFilters, page: PageRequest, today: dt.date) -> RenewalReport:
    """One page of customers with their renewals, and the totals of every match.

    A fixed number of queries whatever the page size: the rates, the customers' MRR at stake
    (grouped and sorted in SQL), the rows of the page's customers, the per-currency totals,
    the customer count (and, with min_mrr, the currencies it could not compare).
    """
    rates = fx.rates_on(day=today)
    matching = _matching(filters, rates=rates)
    ranked = (matching.order_by().values("customer_id")
              .annotate(at_stake=Sum("mrr_converted"))
              .order_by(F("at_stake").desc(nulls_last=True), "customer_id"))
    order = [row["customer_id"] for row in ranked[page.offset:page.offset + page.size]]
    by_customer: dict[int, list[RenewalRow]] = {pk: [] for pk in order}
    if order:
        for values in _rows(matching.filter(customer_id__in=order)).order_by("renewal_at", "id"):
            by_customer[values["customer_id"]].append(_row(values))
    groups = []
    for pk in order:
        rows = by_customer[pk]
        amounts: dict[str, int] = {}
        for row in rows:
            amounts[row.currency] = amounts.get(row.currency, 0) + row.mrr
        groups.append(CustomerRenewals(
            customer_id=pk, customer_name=rows[0].customer_name if rows else "",
            subtotal=fx.total(amounts=amounts, rates=rates, basis=fx.BASIS_TODAY),
            rows=tuple(rows)))
    amounts, subscriptions = _by_currency(matching)
    customers = matching.aggregate(n=Count("customer_id", distinct=True))["n"]
    return RenewalReport(
        filters=filters,
        groups=Page(items=groups, number=page.number, size=page.size, total=customers),
        customers=customers, subscriptions=subscriptions,
        mrr_at_stake=fx.total(amounts=amounts, rates=rates, basis=fx.BASIS_TODAY),
        rates_day=today, uncompared_currencies=_uncompared(filters, rates=rates),
    )


def renewal_rows(*, filters: RenewalFilters, today: dt.date) -> Iterator[RenewalRow]:
    """Every matching subscription, flat, in the grouped report's order: customers by MRR at
    stake (biggest first; customers without any converted amount last), then by renewal date.

    One query (plus the rates), streamed: the customer's total is a window function.
    """
    rates = fx.rates_on(day=today)
    rows = (_matching(filters, rates=rates)
            .annotate(at_stake=Over(Sum("mrr_converted"), partition_by=[F("customer_id")]))
            .order_by(F("at_stake").desc(nulls_last=True), "customer_id", "renewal_at", "id"))
    for values in _rows(rows).iterator(chunk_size=2000):
        yield _row(values)


@dataclass(frozen=True)
class WindowSummary:
    window: Window
    subscriptions: int
    customers: int
    ending: int  # non_renewing among them
    past_due: int
    mrr: fx.MoneyTotal


@dataclass(frozen=True)
class RenewalsSummary:
    this_quarter: WindowSummary
    next_quarter: WindowSummary


def _summary(window: Window, *, rates: fx.Rates) -> WindowSummary:
    matching = _matching(RenewalFilters(window=window), rates=rates)
    amounts: dict[str, int] = {}
    statuses: dict[str, int] = {}
    for row in (matching.order_by().values("currency", "status")
                .annotate(mrr=Sum("mrr"), n=Count("id"))):
        amounts[row["currency"]] = amounts.get(row["currency"], 0) + (row["mrr"] or 0)
        statuses[row["status"]] = statuses.get(row["status"], 0) + row["n"]
    return WindowSummary(
        window=window, subscriptions=sum(statuses.values()),
        customers=matching.aggregate(n=Count("customer_id", distinct=True))["n"],
        ending=statuses.get(Status.NON_RENEWING.value, 0),
        past_due=statuses.get(Status.PAST_DUE.value, 0),
        mrr=fx.total(amounts=amounts, rates=rates, basis=fx.BASIS_TODAY),
    )


def renewals_summary(*, today: dt.date) -> RenewalsSummary:
    """Counts and MRR renewing this quarter and next, for the overview's tiles and links."""
    rates = fx.rates_on(day=today)
    return RenewalsSummary(this_quarter=_summary(this_quarter(today=today), rates=rates),
                           next_quarter=_summary(next_quarter(today=today), rates=rates))
