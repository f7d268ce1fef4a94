"""Churn by month, by reason and by plan, with contraction beside it, from the ledger.

A churned subscription is a ledger change into cancelled or expired from a status that had (or
could resume) revenue: active, past_due, non_renewing or paused. So a cancelled subscription
that later expires counts once, a trial that ends without converting is not churn (it never
paid: metrics.md), and a subscription first seen already cancelled (a backfill's blank
`status_before`) is history, not a loss in the month it was read. Lost MRR is the change's
`mrr_before`; the reason is the subscription's `cancel_reason` ("no reason given" when blank).

Sums are grouped in SQL by day and currency and converted with the rate in force on each day
(history: basis "at the time of each movement"), so the Python side only adds up groups.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, CharField, Count, F, Q, Sum, Value, When
from django.db.models.functions import TruncDate, TruncMonth

from billing.models import LedgerDay, Movement, SubscriptionChange
from billing.normalized import Provider, Status
from billing.selectors import converted, fx
from billing.selectors.params import Page, PageRequest, Reader, paginate
from billing.selectors.renewals import customer_name_of
from subsync.months import month_start

CHURNED_INTO = (Status.CANCELLED.value, Status.EXPIRED.value)
CHURNED_FROM = (Status.ACTIVE.value, Status.PAST_DUE.value, Status.NON_RENEWING.value,
                Status.PAUSED.value)
NO_REASON = "no reason given"
MAX_MONTHS = 60


@dataclass(frozen=True)
class ChurnFilters:
    """Months [first_month, last_month], both included (first days of months); provider."""

    first_month: dt.date
    last_month: dt.date
    provider: str = ""

    @property
    def months(self) -> list[dt.date]:
        out, month = [], self.first_month
        while month <= self.last_month:
            out.append(month)
            month = month_start(month, offset=1)
        return out

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        end = month_start(self.last_month, offset=1)
        return (dt.datetime.combine(self.first_month, dt.time.min, tzinfo=dt.UTC),
                dt.datetime.combine(end, dt.time.min, tzinfo=dt.UTC))

    @classmethod
    def from_query(cls, query: Mapping[str, Any] | None, *, today: dt.date) -> ChurnFilters:
        """Parameters: from, to (YYYY-MM; default the 12 months up to today's), provider."""
        reader = Reader(query)
        last = reader.month("to") or month_start(today)
        first = reader.month("from") or month_start(last, offset=-11)
        provider = reader.choice("provider", [p.value for p in Provider])
        span = (last.year - first.year) * 12 + last.month - first.month + 1
        if span < 1:
            reader.fail("to", "must not be before from")
        elif span > MAX_MONTHS:
            reader.fail("to", f"a period may span at most {MAX_MONTHS} months")
        reader.done()
        return cls(first_month=first, last_month=last, provider=provider)


def _changes(filters: ChurnFilters):
    start, end = filters.bounds()
    query = Q(occurred_at__gte=start, occurred_at__lt=end)
    if filters.provider:
        query &= Q(subscription__provider=filters.provider)
    return SubscriptionChange.objects.filter(query)


def _churned(filters: ChurnFilters):
    return _changes(filters).filter(status_after__in=CHURNED_INTO,
                                    status_before__in=CHURNED_FROM)


def _reason():
    return Case(When(subscription__cancel_reason="", then=Value(NO_REASON)),
                default=F("subscription__cancel_reason"), output_field=CharField())


@dataclass(frozen=True)
class ChurnRow:
    change_id: int
    occurred_at: dt.datetime
    status: str  # cancelled or expired
    subscription_id: int
    provider: str
    external_id: str
    customer_id: int
    customer_name: str
    plan_id: str
    reason: str
    lost_mrr: int  # minor units of `currency`
    currency: str


@dataclass(frozen=True)
class MonthChurn:
    month: dt.date  # first day
    subscriptions: int
    customers: int
    lost_mrr: fx.MoneyTotal
    contraction: fx.MoneyTotal


@dataclass(frozen=True)
class ChurnGroup:
    key: str  # the reason, or the plan id
    subscriptions: int
    lost_mrr: fx.MoneyTotal


@dataclass(frozen=True)
class ChurnReport:
    filters: ChurnFilters
    months: tuple[MonthChurn, ...]  # every month of the period, oldest first, zeros included
    by_reason: tuple[ChurnGroup, ...]  # biggest converted loss first
    by_plan: tuple[ChurnGroup, ...]
    lost_mrr: fx.MoneyTotal
    contraction: fx.MoneyTotal
    subscriptions: int

    @property
    def warnings(self) -> list[str]:
        missing = sorted(set(self.lost_mrr.missing_rates) | set(self.contraction.missing_rates))
        if not missing:
            return []
        return [f"No exchange rate for {', '.join(missing)} on some days: left out of the "
                f"totals in {self.lost_mrr.currency}."]


class DailySums:
    """Money grouped by a key, converted day by day at that day's rates.

    Each amount is converted as it is added (at its day's rates) and only the sums are kept,
    per key and currency: the same figures as one fx.total() per day added up with
    fx.combine(), without a MoneyTotal per day (a year of churn adds some 10,000 groups).
    """

    def __init__(self, history: fx.RateHistory):
        self.history = history
        self.counts: dict[Any, int] = {}
        self._breakdown: dict[Any, dict[str, int]] = {}
        self._converted: dict[Any, dict[str, int]] = {}
        self._missing: dict[Any, set[str]] = {}
        self._rates: dict[dt.date, fx.Rates] = {}

    def add(self, key, *, day: dt.date, currency: str, amount: int, count: int = 0) -> None:
        breakdown = self._breakdown.setdefault(key, {})
        converted = self._converted.setdefault(key, {})
        missing = self._missing.setdefault(key, set())
        self.counts[key] = self.counts.get(key, 0) + count
        if not amount:  # 0 is 0 in any currency, and needs no rate
            return
        day = _as_date(day)
        if day not in self._rates:
            self._rates[day] = self.history.on(day)
        breakdown[currency] = breakdown.get(currency, 0) + amount
        value = fx.convert(amount=amount, currency=currency, rates=self._rates[day])
        if value is None:
            missing.add(currency)
        else:
            converted[currency] = converted.get(currency, 0) + value

    def added_keys(self) -> list:
        return list(self._breakdown)

    def total(self, key=None) -> fx.MoneyTotal:
        keys = [key] if key is not None else self.added_keys()
        currency = self.history.reporting_currency
        parts = [fx.MoneyTotal(amount=None, currency=currency,
                               breakdown=self._breakdown.get(one, {}),
                               converted=self._converted.get(one, {}),
                               missing_rates=tuple(self._missing.get(one, ())),
                               basis=fx.BASIS_AT_MOVEMENT) for one in keys]
        return fx.combine(totals=parts, currency=currency, basis=fx.BASIS_AT_MOVEMENT)


def grouped_by_day(queryset, key: str, amount: str, *, extra_keys: tuple[str, ...] = (),
                   **extra):
    return (queryset.annotate(day=TruncDate("occurred_at", tzinfo=dt.UTC), **extra)
            .order_by().values(key, *extra_keys, "day", "currency")
            .annotate(amount=Sum(amount), n=Count("id")))


def churn_report(*, filters: ChurnFilters) -> ChurnReport:
    """Months, reasons, plans and contraction of the period: four queries whatever its size,
    each converting in the database (billing.selectors.converted), so Python handles one row
    per month, reason, plan and currency (contraction from LedgerDay unless a provider is
    chosen: it does not tell them apart)."""
    last_day = month_start(filters.last_month, offset=1) - dt.timedelta(days=1)
    history = fx.rate_history(until=last_day)
    churned = _churned(filters)
    month = {"month": TruncMonth("occurred_at", tzinfo=dt.UTC)}
    # One read of the churned rows, grouped by reason, plan, month, day and currency; each
    # report then adds up its own key per day and currency before converting.
    grouped = grouped_by_day(churned, "reason", "mrr_before", reason=_reason(),
                             plan=F("subscription__plan_id"), extra_keys=("plan", "month"),
                             **month)
    sql, params = grouped.query.sql_with_params()
    sums = converted.converted_totals(sql=_per_report(sql), params=params,
                                      keys=("report", *_KEYS), history=history)
    reports: dict[str, dict] = {report: {} for report in _KEYS}
    for (report, *keys), value in sums.items():
        key = keys[_KEYS.index(report)]
        reports[report][_as_date(key) if report == "month" else key] = value
    by_month = reports["month"]
    if filters.provider:
        contractions = grouped_by_day(_changes(filters).filter(movement=Movement.CONTRACTION),
                                      "month", "movement_amount", **month)
    else:  # the same sums, kept per day and currency by the ledger's writer
        start, end = filters.bounds()
        contractions = (LedgerDay.objects.filter(day__gte=start.date(), day__lt=end.date(),
                                                 contraction_count__gt=0)
                        .annotate(month=TruncMonth("day"), amount=F("contraction_amount"),
                                  n=F("contraction_count"))
                        .order_by().values("month", "day", "currency", "amount", "n"))
    sql, params = contractions.query.sql_with_params()
    contraction = {_as_date(key): value for (key,), value in converted.converted_totals(
        sql=sql, params=params, keys=("month",), history=history).items()}
    customers = {_as_date(row["month"]): row["n"] for row in churned.annotate(**month)
                 .order_by().values("month").annotate(n=Count("customer_id", distinct=True))}
    currency = history.reporting_currency
    months = tuple(
        MonthChurn(month=first, subscriptions=_count(by_month, first),
                   customers=customers.get(first, 0), lost_mrr=_total(by_month, first, currency),
                   contraction=_total(contraction, first, currency))
        for first in filters.months)
    return ChurnReport(
        filters=filters, months=months,
        by_reason=_ranked(reports["reason"], currency),
        by_plan=_ranked(reports["plan"], currency),
        lost_mrr=_sum(by_month.values(), currency),
        contraction=_sum(contraction.values(), currency),
        subscriptions=sum(value.count for value in by_month.values()),
    )


_KEYS = ("month", "reason", "plan")


def _per_report(grouped_sql: str) -> str:
    """SQL: the churned rows' sums per day and currency of each report's key (a column of its
    own, NULL in the other reports' rows), from one read of the ledger."""
    branches = []
    for report in _KEYS:
        columns = ", ".join(key if key == report else f"NULL AS {key}" for key in _KEYS)
        branches.append(f"SELECT '{report}' AS report, {columns}, day, currency,"  # noqa: S608
                        f" SUM(amount) AS amount, SUM(n) AS n FROM churned"
                        f" GROUP BY {report}, day, currency")
    return f"WITH churned AS ({grouped_sql}) {' UNION ALL '.join(branches)}"


def _sum(values, currency: str) -> fx.MoneyTotal:
    return fx.combine(totals=[value.total for value in values], currency=currency,
                      basis=fx.BASIS_AT_MOVEMENT)


def _total(sums: dict, key, currency: str) -> fx.MoneyTotal:
    return _sum([sums[key]] if key in sums else [], currency)


def _count(sums: dict, key) -> int:
    return sums[key].count if key in sums else 0


def _as_date(value) -> dt.date:
    """TruncMonth and TruncDate give datetimes on some backends and dates on others (and text
    through a raw cursor on SQLite)."""
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value.date() if isinstance(value, dt.datetime) else value


def _ranked(sums: dict, currency: str) -> tuple[ChurnGroup, ...]:
    groups = [ChurnGroup(key=key or "", subscriptions=value.count,
                         lost_mrr=_sum([value], currency)) for key, value in sums.items()]
    groups.sort(key=lambda g: (g.lost_mrr.amount is None, -(g.lost_mrr.amount or 0),
                               -g.subscriptions, g.key))
    return tuple(groups)


def _counted(report: ChurnReport | None, *, filters: ChurnFilters, reason: str,
             plan: str) -> int | None:
    """The number of churned rows the report has counted already for these filters."""
    if report is None or report.filters != filters or (reason and plan):
        return None
    if reason or plan:
        groups = report.by_reason if reason else report.by_plan
        return next((g.subscriptions for g in groups if g.key == (reason or plan)), 0)
    return report.subscriptions


def churned_subscriptions(*, filters: ChurnFilters, page: PageRequest, reason: str = "",
                          plan: str = "", report: ChurnReport | None = None) -> Page[ChurnRow]:
    """The churned subscriptions behind the figures, newest first (two queries per page);
    `reason` and `plan` narrow to one group of the report (NO_REASON for blank reasons).
    `report`: the churn_report() of the same filters, when the caller has it: its counts are
    the page's total (one query fewer)."""
    total = _counted(report, filters=filters, reason=reason, plan=plan)
    rows = _churned(filters).annotate(reason=_reason())
    if reason:
        rows = rows.filter(reason=reason)
    if plan:
        rows = rows.filter(subscription__plan_id=plan)
    rows = rows.order_by("-occurred_at", "-id").values(
        "id", "occurred_at", "status_after", "subscription_id", "subscription__provider",
        "subscription__external_id", "customer_id", "customer__company",
        "customer__first_name", "customer__last_name", "customer__email",
        "customer__external_id", "subscription__plan_id", "reason", "mrr_before", "currency")
    return paginate(rows, page=page, total=total, convert=lambda v: ChurnRow(
        change_id=v["id"], occurred_at=v["occurred_at"], status=v["status_after"],
        subscription_id=v["subscription_id"], provider=v["subscription__provider"],
        external_id=v["subscription__external_id"], customer_id=v["customer_id"],
        customer_name=customer_name_of(v), plan_id=v["subscription__plan_id"],
        reason=v["reason"], lost_mrr=v["mrr_before"], currency=v["currency"]))
