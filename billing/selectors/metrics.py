"""Subscription metrics for the dashboard and the REST API (definitions: docs/metrics.md).

Where the figures come from:
- Now: `Subscription`, whose `mrr` is already the effective MRR. Summed per currency in SQL.
- History: the ledger (`SubscriptionChange`). Each subscription's MRR is the sum of its ledger
  deltas, so a value at an earlier moment is the value now minus the changes since then. The
  ledger's sums per day and currency are kept by its writer in `LedgerDay` (the same
  transaction), so the months shown are a few thousand rows, never a million; the Python here
  only walks those. History and the current figures therefore cannot disagree.
- NRR needs who was paying at the start: the total MRR then (LedgerDay) minus, at the end,
  the customers who were not (first paid since, or came back since from 0): see _nrr().

Time is UTC. A figure "on day D" is its value at the end of D (before D + 1 at 00:00 UTC); a
month's movements are those that occurred in it, up to the end of `today` for the current
month. Changes dated after `today` are left out, so that any past day can be asked for.

Money converts into the reporting currency (billing.selectors.fx): movements at the rate in
force on the day of each movement; a balance at a month end at that day's rate; the current
MRR and NRR at today's rates. Each MoneyTotal says which, and names the currencies that had no
rate; every result gathers those in `missing_rates`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum

from billing.models import (
    ACTIVE_STATUSES,
    Customer,
    LedgerDay,
    Movement,
    Subscription,
    SubscriptionChange,
)
from billing.selectors import fx
from billing.selectors.fx import MoneyTotal, RateHistory, Rates
from subsync.months import add_months, month_start

MOVEMENTS = (Movement.NEW, Movement.EXPANSION, Movement.CONTRACTION, Movement.CHURN,
             Movement.REACTIVATION)
MAX_MONTHS = 120  # a bound on what one request may ask for
RATE_PLACES = Decimal("0.000001")  # rates are fractions (0.035 = 3.5 %) to 6 places


# -- results -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rate:
    """numerator ÷ denominator, e.g. customers churned ÷ customers paying at the start.

    `value` is a fraction (Decimal("0.035") = 3.5 %), rounded half up to 6 places; None when
    the denominator is 0 (shown as a dash, never as 0 %) or an amount could not be converted
    at all. Money rates hold minor units of `currency`; counts of customers have currency "".
    `missing_rates` names currencies left out of the amounts (a warning to show).
    """

    numerator: int | None
    denominator: int | None
    value: Decimal | None
    currency: str = ""
    missing_rates: tuple[str, ...] = ()

    @classmethod
    def of(cls, *, numerator: int | None, denominator: int | None, currency: str = "",
           missing_rates: Iterable[str] = ()) -> Rate:
        value = None
        if numerator is not None and denominator:
            value = (Decimal(numerator) / Decimal(denominator)).quantize(
                RATE_PLACES, rounding=ROUND_HALF_UP)
        return cls(numerator=numerator, denominator=denominator, value=value,
                   currency=currency, missing_rates=tuple(sorted(set(missing_rates))))

    @property
    def percent(self) -> Decimal | None:
        """The value in per cent (Decimal("3.5") for 3.5 %), None for "-" (a dash)."""
        return None if self.value is None else self.value * 100


@dataclass(frozen=True)
class MovementCounts:
    """How many ledger changes of each kind (a customer churning twice counts twice)."""

    new: int
    expansion: int
    contraction: int
    churn: int
    reactivation: int


@dataclass(frozen=True)
class MonthMovements:
    """The MRR movements of one month, each converted at the rate of its day.

    Amounts are >= 0 (contraction and churn are what was lost); `net_new` = new + expansion +
    reactivation - contraction - churn, signed. `until` is the last day counted: the month's
    last day, or today for the current month (`complete` is then False).
    """

    month: date  # the first day
    until: date
    complete: bool
    new: MoneyTotal
    expansion: MoneyTotal
    contraction: MoneyTotal
    churn: MoneyTotal
    reactivation: MoneyTotal
    net_new: MoneyTotal
    counts: MovementCounts

    @property
    def missing_rates(self) -> tuple[str, ...]:
        return self.net_new.missing_rates


@dataclass(frozen=True)
class MonthPoint:
    """MRR and counts at the end of a month (at the end of today for the current month)."""

    month: date  # the first day
    at: date  # the day the values are taken at: the month's last day, or today
    mrr: MoneyTotal  # at the rate in force on `at` (basis "at each month end")
    paying_customers: int
    active_subscriptions: int

    @property
    def missing_rates(self) -> tuple[str, ...]:
        return self.mrr.missing_rates


@dataclass(frozen=True)
class MonthChurn:
    """Churn rates of one month P (docs/metrics.md).

    logo_churn = churned customers ÷ paying customers at the start of P;
    gross_mrr_churn = (churn + contraction) ÷ MRR at the start of P;
    net_mrr_churn = (churn + contraction - expansion - reactivation) ÷ MRR at the start of P.
    The start of P is the end of the day before its first day; that MRR converts at the rate of
    that day (the previous MonthPoint), the movements at the rate of their own day.
    """

    month: date
    until: date
    complete: bool
    paying_customers_at_start: int
    churned_customers: int
    mrr_at_start: MoneyTotal
    lost_mrr: MoneyTotal  # churn + contraction
    net_lost_mrr: MoneyTotal  # churn + contraction - expansion - reactivation
    logo_churn: Rate
    gross_mrr_churn: Rate
    net_mrr_churn: Rate

    @property
    def missing_rates(self) -> tuple[str, ...]:
        return _missing(self.mrr_at_start, self.net_lost_mrr, self.lost_mrr)


@dataclass(frozen=True)
class NetRevenueRetention:
    """MRR at the end of `end` of the customers who were paying at the end of `start` ÷ their
    MRR then. Both converted at the rates of `end` (today), so that exchange-rate moves do not
    show as retention; a customer's MRR in all currencies counts."""

    start: date  # `months` months before `end`
    end: date
    months: int
    customers: int  # paying at the end of `start`
    mrr_then: MoneyTotal
    mrr_now: MoneyTotal
    rate: Rate

    @property
    def missing_rates(self) -> tuple[str, ...]:
        return self.rate.missing_rates


@dataclass(frozen=True)
class MoneyKpi:
    value: MoneyTotal
    previous: MoneyTotal
    previous_period: str  # what `previous` is, for "change vs previous period"

    @property
    def change(self) -> int | None:
        if self.value.amount is None or self.previous.amount is None:
            return None
        return self.value.amount - self.previous.amount


@dataclass(frozen=True)
class CountKpi:
    value: int
    previous: int
    previous_period: str

    @property
    def change(self) -> int:
        return self.value - self.previous


@dataclass(frozen=True)
class RateKpi:
    value: Rate
    previous: Rate
    previous_period: str

    @property
    def change(self) -> Decimal | None:
        """Difference of the two fractions (0.01 = one percentage point); None for "-" (a dash)."""
        if self.value.value is None or self.previous.value is None:
            return None
        return self.value.value - self.previous.value


@dataclass(frozen=True)
class Overview:
    """The KPI tiles of the dashboard's first page, each with its previous period.

    mrr/arr: at the end of today vs the end of last month, both at today's rates (so the change
    is the business's, not the exchange rate's). net_new_mrr: this month to date vs the whole
    of last month, at the rate of each movement. Churn rates: last month vs the month before.
    NRR: over the last 12 months as of today vs as of the end of last month.
    """

    today: date
    currency: str
    mrr: MoneyKpi
    arr: MoneyKpi
    active_subscriptions: CountKpi
    paying_customers: CountKpi
    net_new_mrr: MoneyKpi
    this_month: MonthMovements  # the parts of net_new_mrr.value
    logo_churn: RateKpi
    gross_mrr_churn: RateKpi
    net_mrr_churn: RateKpi
    nrr: RateKpi
    net_revenue_retention: NetRevenueRetention  # the detail of nrr.value
    missing_rates: tuple[str, ...]  # every currency some figure above had no rate for

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(f"No exchange rate for {code}: amounts in {code} are left out of the "
                     f"totals in {self.currency}." for code in self.missing_rates)


@dataclass(frozen=True)
class Dashboard:
    """The Overview page in one piece (see dashboard())."""

    overview: Overview
    mrr_series: tuple[MonthPoint, ...]
    movements: tuple[MonthMovements, ...]
    churn_rates: tuple[MonthChurn, ...]

    @property
    def missing_rates(self) -> tuple[str, ...]:
        return _missing(self.overview, *self.mrr_series, *self.movements, *self.churn_rates)


# -- public functions ---------------------------------------------------------------------------

def overview(*, today: date) -> Overview:
    """The dashboard's KPI tiles (5 queries whatever the number of rows)."""
    history = _History.read(since=month_start(today, offset=-2), today=today)
    return _overview(history=history, today=today)


def dashboard(*, today: date, months: int = 12) -> Dashboard:
    """Everything the Overview page shows, from one read of LedgerDay (5 queries): the same
    figures as overview(), mrr_series(), movements_by_month() and churn_rates_by_month()."""
    first = _first_month(months=months, today=today)
    since = min(first, month_start(today, offset=-2))
    history = _History.read(since=since, today=today)
    month_starts = [month_start(first, offset=i) for i in range(months)]
    return Dashboard(
        overview=_overview(history=history, today=today),
        mrr_series=tuple(history.point(month=month) for month in month_starts),
        movements=tuple(history.movements(month=month) for month in month_starts),
        churn_rates=tuple(history.churn(month=month) for month in month_starts),
    )


def _overview(*, history: _History, today: date) -> Overview:
    this_month = month_start(today)
    last_month = month_start(this_month, offset=-1)
    rates_today = history.rates.on(today)
    last_month_end = this_month - timedelta(days=1)
    previous = "at the end of last month"

    mrr_now = fx.total(amounts=history.mrr_at(today), rates=rates_today,
                       basis=fx.BASIS_TODAY)
    mrr_then = fx.total(amounts=history.mrr_at(last_month_end), rates=rates_today,
                        basis=fx.BASIS_TODAY)
    moved_now = history.movements(month=this_month)
    moved_last = history.movements(month=last_month)
    churn_last = history.churn(month=last_month)
    churn_before = history.churn(month=month_start(this_month, offset=-2))
    nrr_now, nrr_then = _nrr(ends=[today, last_month_end], months=12, rates=rates_today,
                             now=(history.now_mrr, history.now_paying))
    results = (mrr_now, mrr_then, moved_now.net_new, moved_last.net_new, churn_last,
               churn_before, nrr_now, nrr_then)
    return Overview(
        today=today, currency=rates_today.reporting_currency,
        mrr=MoneyKpi(mrr_now, mrr_then, previous),
        arr=MoneyKpi(mrr_now.times(12), mrr_then.times(12), previous),
        active_subscriptions=CountKpi(history.active_at(today),
                                      history.active_at(last_month_end), previous),
        paying_customers=CountKpi(history.paying_at(today), history.paying_at(last_month_end),
                                  previous),
        net_new_mrr=MoneyKpi(moved_now.net_new, moved_last.net_new, "last month"),
        this_month=moved_now,
        logo_churn=RateKpi(churn_last.logo_churn, churn_before.logo_churn,
                           "the month before"),
        gross_mrr_churn=RateKpi(churn_last.gross_mrr_churn, churn_before.gross_mrr_churn,
                                "the month before"),
        net_mrr_churn=RateKpi(churn_last.net_mrr_churn, churn_before.net_mrr_churn,
                              "the month before"),
        nrr=RateKpi(nrr_now.rate, nrr_then.rate, previous),
        net_revenue_retention=nrr_now,
        missing_rates=_missing(*results),
    )


def mrr_series(*, months: int = 12, today: date) -> list[MonthPoint]:
    """MRR at the end of each of the last `months` months, oldest first; the current month's
    point is at the end of today (4 queries)."""
    first = _first_month(months=months, today=today)
    history = _History.read(since=first, today=today)
    return [history.point(month=month_start(first, offset=i)) for i in range(months)]


def movements_by_month(*, months: int = 12, today: date) -> list[MonthMovements]:
    """New, expansion, contraction, churn and reactivation MRR of each of the last `months`
    months, oldest first; the current month up to today (4 queries)."""
    first = _first_month(months=months, today=today)
    history = _History.read(since=first, today=today)
    return [history.movements(month=month_start(first, offset=i)) for i in range(months)]


def churn_rates_by_month(*, months: int = 12, today: date) -> list[MonthChurn]:
    """Logo, gross and net MRR churn rates of each of the last `months` months (4 queries)."""
    first = _first_month(months=months, today=today)
    history = _History.read(since=first, today=today)
    return [history.churn(month=month_start(first, offset=i)) for i in range(months)]


def nrr(*, today: date, months: int = 12) -> NetRevenueRetention:
    """Net revenue retention over the `months` months up to today, at today's rates
    (2 queries)."""
    _check_months(months)
    return _nrr(ends=[today], months=months, rates=fx.rates_on(day=today))[0]


# -- the ledger, aggregated ----------------------------------------------------------------------

_DELTA = F("mrr_after") - F("mrr_before")
_SQL_DELTA = "-(mrr_after - mrr_before)"  # what to add to the MRR now to go back past a change


@dataclass(frozen=True)
class _Day:
    """The ledger changes of one day in one currency (a LedgerDay row)."""

    day: date
    currency: str
    delta: int  # change of MRR
    amounts: dict[str, int]  # per movement kind, >= 0
    counts: dict[str, int]
    active_delta: int  # subscriptions that became active minus those that stopped being

    paying_delta: int  # customers who started paying minus those who stopped


class _History:
    """The figures now, and the ledger since `since` per day and currency: every value from
    `since` on can be worked out from these few rows."""

    def __init__(self, *, today: date, now_mrr: dict[str, int], now_active: int,
                 now_paying: int, days: list[_Day], rates: RateHistory):
        self.today = today
        self.now_mrr = now_mrr
        self.now_active = now_active
        self.now_paying = now_paying
        self.days = days
        self.rates = rates
        self._day_keys = [row.day for row in days]
        self._movements: dict[date, MonthMovements] = {}  # churn() needs them again

    @classmethod
    def read(cls, *, since: date, today: date) -> _History:
        now_mrr = dict(
            Subscription.objects.filter(mrr__gt=0).order_by().values("currency")
            .annotate(total=Sum("mrr")).values_list("currency", "total")
        )
        counts = Subscription.objects.aggregate(
            active=Count("id", filter=Q(status__in=ACTIVE_STATUSES)),
            paying=Count("customer", distinct=True, filter=Q(mrr__gt=0)),
        )
        kinds = [f"{kind.value}_{part}" for part in ("amount", "count") for kind in MOVEMENTS]
        days = []
        for day, currency, delta, active_delta, *sums in (
                LedgerDay.objects.filter(day__gte=since).order_by("day")
                .values_list("day", "currency", "mrr_delta", "active_delta", *kinds)):
            amounts = dict(zip(MOVEMENTS, sums[:len(MOVEMENTS)], strict=True))
            moved = dict(zip(MOVEMENTS, sums[len(MOVEMENTS):], strict=True))
            days.append(_Day(
                day=day, currency=currency, delta=delta, amounts=amounts, counts=moved,
                active_delta=active_delta,
                paying_delta=(moved[Movement.NEW] + moved[Movement.REACTIVATION]
                              - moved[Movement.CHURN])))
        return cls(today=today, now_mrr=now_mrr, now_active=counts["active"],
                   now_paying=counts["paying"], days=days,
                   rates=fx.rate_history(until=today))

    def _after(self, day: date) -> list[_Day]:
        return self.days[bisect_right(self._day_keys, day):]  # days are in order

    def mrr_at(self, day: date) -> dict[str, int]:
        """MRR per currency at the end of `day` (>= the day before `since`)."""
        amounts = dict(self.now_mrr)
        for row in self._after(day):
            amounts[row.currency] = amounts.get(row.currency, 0) - row.delta
        return amounts

    def active_at(self, day: date) -> int:
        return self.now_active - sum(row.active_delta for row in self._after(day))

    def paying_at(self, day: date) -> int:
        return self.now_paying - sum(row.paying_delta for row in self._after(day))

    def _span(self, month: date) -> tuple[date, bool, list[_Day]]:
        end = month_start(month, offset=1) - timedelta(days=1)
        until = min(end, self.today)
        rows = self.days[bisect_left(self._day_keys, month):bisect_right(self._day_keys, until)]
        return until, until == end, rows

    def point(self, *, month: date) -> MonthPoint:
        at = min(month_start(month, offset=1) - timedelta(days=1), self.today)
        return MonthPoint(
            month=month, at=at,
            mrr=fx.total(amounts=self.mrr_at(at), rates=self.rates.on(at),
                         basis=fx.BASIS_AT_MONTH_END),
            paying_customers=self.paying_at(at), active_subscriptions=self.active_at(at),
        )

    def _converted(self, rows: list[_Day], amount: Callable[[_Day], int]) -> MoneyTotal:
        """Sum `amount` of the rows, each day's amounts converted at that day's rates."""
        by_day: dict[date, dict[str, int]] = defaultdict(dict)
        for row in rows:
            by_day[row.day][row.currency] = amount(row)
        return fx.combine(
            totals=[fx.total(amounts=amounts, rates=self.rates.on(day),
                             basis=fx.BASIS_AT_MOVEMENT) for day, amounts in by_day.items()],
            currency=self.rates.reporting_currency, basis=fx.BASIS_AT_MOVEMENT,
        )

    def movements(self, *, month: date) -> MonthMovements:
        if month not in self._movements:
            self._movements[month] = self._month_movements(month)
        return self._movements[month]

    def _month_movements(self, month: date) -> MonthMovements:
        until, complete, rows = self._span(month)
        parts = {kind: self._converted(rows, lambda row, kind=kind: row.amounts[kind])
                 for kind in MOVEMENTS}
        net_new = fx.combine(
            totals=[parts[Movement.NEW], parts[Movement.EXPANSION],
                    parts[Movement.REACTIVATION], parts[Movement.CONTRACTION].times(-1),
                    parts[Movement.CHURN].times(-1)],
            currency=self.rates.reporting_currency, basis=fx.BASIS_AT_MOVEMENT,
        )
        counts = MovementCounts(**{kind.value: sum(row.counts[kind] for row in rows)
                                   for kind in MOVEMENTS})
        return MonthMovements(
            month=month, until=until, complete=complete, new=parts[Movement.NEW],
            expansion=parts[Movement.EXPANSION], contraction=parts[Movement.CONTRACTION],
            churn=parts[Movement.CHURN], reactivation=parts[Movement.REACTIVATION],
            net_new=net_new, counts=counts,
        )

    def churn(self, *, month: date) -> MonthChurn:
        moved = self.movements(month=month)
        start = month - timedelta(days=1)
        currency = self.rates.reporting_currency
        mrr_at_start = fx.total(amounts=self.mrr_at(start), rates=self.rates.on(start),
                                basis=fx.BASIS_AT_MONTH_END)
        lost = fx.combine(totals=[moved.churn, moved.contraction], currency=currency,
                          basis=fx.BASIS_AT_MOVEMENT)
        net_lost = fx.combine(
            totals=[lost, moved.expansion.times(-1), moved.reactivation.times(-1)],
            currency=currency, basis=fx.BASIS_AT_MOVEMENT,
        )
        paying = self.paying_at(start)
        return MonthChurn(
            month=month, until=moved.until, complete=moved.complete,
            paying_customers_at_start=paying, churned_customers=moved.counts.churn,
            mrr_at_start=mrr_at_start, lost_mrr=lost, net_lost_mrr=net_lost,
            logo_churn=Rate.of(numerator=moved.counts.churn, denominator=paying),
            gross_mrr_churn=_money_rate(lost, mrr_at_start),
            net_mrr_churn=_money_rate(net_lost, mrr_at_start),
        )


def _nrr(*, ends: list[date], months: int, rates: Rates,
         now: tuple[dict[str, int], int] | None = None) -> list[NetRevenueRetention]:
    """NRR as of each day of `ends` (one query), without reading a year of ledger.

    For an end E and its start S: the customers paying at S are all those with MRR > 0 then,
    so their MRR then is simply the total MRR at S (each customer's part in each currency is
    >= 0): the MRR now minus LedgerDay's deltas since S. Their MRR at E is the total at E minus
    that of the customers NOT paying at S. Those with MRR at E are (a) the customers who first
    paid after S (Customer.first_paid_at, set by the writer at their `new` movement), and (b)
    customers who had paid before, were at 0 at S and came back: among their `churn` and
    `reactivation` movements since S, the first is a reactivation (had they been paying at S,
    a churn would come first). (b) is a small set, read with the ledger's (movement,
    occurred_at) index. A customer's MRR at E is the MRR now minus their changes after E (few:
    E is at most a month ago). The number of customers paying at S comes from LedgerDay's
    counts of movements. This relies on movements being classified in the order the changes
    occurred, as the batch writer does. Its shape keeps the planner's estimate down: with a
    correlated subquery per customer who came back, PostgreSQL's JIT spent 5 s compiling it;
    at 1M ledger rows it is still just above jit_above_cost, so JIT is off for it.

    `now`: the MRR per currency and the number of paying customers now, when the caller has
    read them already (the overview); otherwise they are read in the same query.
    """
    subscription = Subscription._meta.db_table
    change = SubscriptionChange._meta.db_table
    customer = Customer._meta.db_table
    starts = [add_months(end, -months) for end in ends]
    params: dict[str, object] = {
        "earliest": connection.ops.adapt_datefield_value(min(starts)),
        **{kind.value: kind.value for kind in MOVEMENTS},
    }
    names = [f"{name}{i}" for i in range(len(ends)) for name in ("then", "now", "gone", "paying")]

    def select(columns: dict[str, str], rest: str, currency: str = "currency") -> str:
        values = ", ".join(f"{columns.get(name, '0')} AS {name}" for name in names)
        return f"SELECT {currency} AS currency, {values} {rest}"

    moved = "movement IN ({})".format(", ".join(f"%({kind.value})s" for kind in MOVEMENTS))
    now_part, days_part, paying_part, branches = {}, {}, {}, []
    for i, (start, end) in enumerate(zip(starts, ends, strict=True)):
        params |= {f"start{i}": connection.ops.adapt_datefield_value(start),
                   f"end{i}": connection.ops.adapt_datefield_value(end),
                   f"then{i}": _db_datetime(_start_of(start + timedelta(days=1))),
                   f"now{i}": _db_datetime(_start_of(end + timedelta(days=1)))}
        # (a) first paid since S; (b) came back since S: among their churn and reactivation
        # movements since S, the first is a reactivation.
        fresh = (f"JOIN {customer} cus ON cus.id = {{table}}.customer_id"
                 f" WHERE cus.first_paid_at >= %(then{i})s")
        back = (
            f"SELECT customer_id FROM (SELECT moved.customer_id, moved.movement,"  # noqa: S608
            f" ROW_NUMBER() OVER (PARTITION BY moved.customer_id"
            f"  ORDER BY moved.occurred_at, moved.id) AS place"
            f" FROM {change} moved JOIN {customer} cus ON cus.id = moved.customer_id"
            f" WHERE moved.movement IN (%(reactivation)s, %(churn)s)"
            f" AND moved.occurred_at >= %(then{i})s AND moved.occurred_at < %(now{i})s"
            f" AND cus.first_paid_at < %(then{i})s) firsts"
            f" WHERE place = 1 AND movement = %(reactivation)s"
        )
        now_part |= {f"then{i}": "mrr", f"now{i}": "mrr"}
        days_part |= {
            f"then{i}": f"CASE WHEN day > %(start{i})s THEN -mrr_delta ELSE 0 END",
            f"now{i}": f"CASE WHEN day > %(end{i})s THEN -mrr_delta ELSE 0 END",
            f"paying{i}": f"CASE WHEN day > %(start{i})s"
                          f" THEN churn_count - new_count - reactivation_count ELSE 0 END",
        }
        paying_part[f"paying{i}"] = "COUNT(DISTINCT customer_id)"
        # Their MRR at E: the MRR now minus their changes after E.
        after_end = f"{moved} AND occurred_at >= %(now{i})s"
        branches += [
            select({f"gone{i}": "mrr"}, f"FROM {subscription} {fresh.format(table=subscription)}"
                   f" AND mrr > 0"),
            select({f"gone{i}": _SQL_DELTA}, f"FROM {change} {fresh.format(table=change)}"
                   f" AND {after_end}"),
            select({f"gone{i}": "amount"},
                   f"FROM (SELECT customer_id, currency, mrr AS amount FROM {subscription}"  # noqa: S608
                   f" WHERE mrr > 0 UNION ALL SELECT customer_id, currency, {_SQL_DELTA}"
                   f" FROM {change} WHERE {after_end}) back_parts"
                   f" WHERE customer_id IN ({back})"),  # (b) read once
        ]
    branches.append(select(days_part, f"FROM {LedgerDay._meta.db_table}"
                                      f" WHERE day > %(earliest)s"))
    if now is None:
        branches += [select(now_part, f"FROM {subscription} WHERE mrr > 0"),
                     select(paying_part, f"FROM {subscription} WHERE mrr > 0", currency="''")]
    sums = ", ".join(f"SUM({name})" for name in names)
    sql = (f"SELECT currency, {sums} FROM ("  # noqa: S608 (names only)
           f" {' UNION ALL '.join(branches)}) parts GROUP BY currency")
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Its planned cost at 1M ledger rows passes jit_above_cost, and compiling it costs
            # more (0.1-0.3 s) than it saves; SET LOCAL ends with the transaction.
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    now_mrr, now_paying = now or ({}, 0)
    results = []
    for i, (start, end) in enumerate(zip(starts, ends, strict=True)):
        then_amounts, now_amounts = dict(now_mrr), dict(now_mrr)
        for row in rows:
            if row[0]:
                then_amounts[row[0]] = then_amounts.get(row[0], 0) + int(row[1 + 4 * i])
                now_amounts[row[0]] = (now_amounts.get(row[0], 0) + int(row[2 + 4 * i])
                                       - int(row[3 + 4 * i]))
        customers = now_paying + sum(int(row[4 + 4 * i]) for row in rows)
        then_total = fx.total(amounts=then_amounts, rates=rates, basis=fx.BASIS_TODAY)
        now_total = fx.total(amounts=now_amounts, rates=rates, basis=fx.BASIS_TODAY)
        results.append(NetRevenueRetention(
            start=start, end=end, months=months, customers=customers,
            mrr_then=then_total, mrr_now=now_total, rate=_money_rate(now_total, then_total),
        ))
    return results


def _db_datetime(moment: datetime):
    """A datetime as the database driver takes it in raw SQL (SQLite keeps UTC as text)."""
    return connection.ops.adapt_datetimefield_value(moment)


# -- helpers --------------------------------------------------------------------------------------

def _money_rate(numerator: MoneyTotal, denominator: MoneyTotal) -> Rate:
    return Rate.of(numerator=numerator.amount, denominator=denominator.amount,
                   currency=denominator.currency,
                   missing_rates=numerator.missing_rates + denominator.missing_rates)


def _missing(*results: object) -> tuple[str, ...]:
    codes: set[str] = set()
    for result in results:
        codes.update(getattr(result, "missing_rates", ()))
    return tuple(sorted(codes))


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _check_months(months: int) -> None:
    if not 1 <= months <= MAX_MONTHS:
        raise ValueError(f"months must be between 1 and {MAX_MONTHS}, not {months}")


def _first_month(*, months: int, today: date) -> date:
    _check_months(months)
    return month_start(today, offset=-(months - 1))
