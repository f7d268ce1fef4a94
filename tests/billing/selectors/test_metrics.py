"""Dashboard metrics against a small hand-made ledger; every expected figure is worked out by
hand in the test from the definitions in docs/metrics.md.

The story (reporting in USD; EUR 1.10 from 1 Jan 2026, 1.20 from 15 Nov 2026; GBP has no rate;
today is 10 Dec 2026):

| when (UTC)     | customer | subscription               | customer MRR      | movement           |
|----------------|----------|----------------------------|-------------------|--------------------|
| 01 Sep         | A (USD)  | a1 trial starts, 0         | 0 -> 0            | none               |
| 05 Sep         | A        | a1 converts, 10000         | 0 -> 10000        | new 10000          |
| 10 Sep         | B (EUR)  | b1 starts, 20000           | 0 -> 20000        | new 20000          |
| 05 Oct         | B        | b1 cancelled               | 20000 -> 0        | churn 20000        |
| 20 Oct         | A        | a2 starts, 5000            | 10000 -> 15000    | expansion 5000     |
| 03 Nov         | A        | a1 downgraded to 6000      | 15000 -> 11000    | contraction 4000   |
| 20 Nov         | B        | b2 starts, 8000            | 0 -> 8000         | reactivation 8000  |
| 25 Nov         | A        | a1 becomes past_due        | 11000 -> 11000    | none               |
| 30 Nov 23:30   | C (GBP)  | c1 starts, 3000            | 0 -> 3000         | new 3000           |
| 01 Dec 00:00   | A        | a2 cancelled               | 11000 -> 6000     | contraction 5000   |
| 05 Dec         | B        | b2 becomes non_renewing    | 8000 -> 8000      | none               |
| 11 Dec 00:00   | A        | a1 upgraded to 7000        | 6000 -> 7000      | expansion 1000     |

August has no paying customer at all; the change on 11 Dec is after `today` and must not
count.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import Customer, ExchangeRate, Subscription, SubscriptionChange
from billing.selectors import metrics
from billing.selectors.metrics import Rate
from billing.services.ledger_days import rebuild_ledger_days

pytestmark = pytest.mark.django_db

TODAY = date(2026, 12, 10)


def at(month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def story(settings):
    settings.SUBSYNC_REPORTING_CURRENCY = "USD"
    ExchangeRate.objects.create(currency="EUR", rate=Decimal("1.10"), valid_from=date(2026, 1, 1))
    ExchangeRate.objects.create(currency="EUR", rate=Decimal("1.20"),
                                valid_from=date(2026, 11, 15))
    customers = {name: Customer.objects.create(provider="chargebee", external_id=name)
                 for name in "ABC"}
    # Subscriptions as they are now (after every change below, the later one included).
    subs = {}
    for name, customer, status, currency, mrr in (
        ("a1", "A", "past_due", "USD", 7000), ("a2", "A", "cancelled", "USD", 0),
        ("b1", "B", "cancelled", "EUR", 0), ("b2", "B", "non_renewing", "EUR", 8000),
        ("c1", "C", "active", "GBP", 3000),
    ):
        subs[name] = Subscription.objects.create(
            provider="chargebee", external_id=name, customer=customers[customer],
            status=status, currency=currency, mrr=mrr)

    def change(when, sub, status, mrr, customer_mrr, movement="none", amount=0):
        SubscriptionChange.objects.create(
            subscription=subs[sub], customer=subs[sub].customer, occurred_at=when,
            status_before=status[0], status_after=status[1], mrr_before=mrr[0],
            mrr_after=mrr[1], customer_mrr_before=customer_mrr[0],
            customer_mrr_after=customer_mrr[1], currency=subs[sub].currency,
            movement=movement, movement_amount=amount)

    change(at(9, 1), "a1", ("", "trial"), (0, 0), (0, 0))
    change(at(9, 5), "a1", ("trial", "active"), (0, 10000), (0, 10000), "new", 10000)
    change(at(9, 10), "b1", ("", "active"), (0, 20000), (0, 20000), "new", 20000)
    change(at(10, 5), "b1", ("active", "cancelled"), (20000, 0), (20000, 0), "churn", 20000)
    change(at(10, 20), "a2", ("", "active"), (0, 5000), (10000, 15000), "expansion", 5000)
    change(at(11, 3), "a1", ("active", "active"), (10000, 6000), (15000, 11000),
           "contraction", 4000)
    change(at(11, 20), "b2", ("", "active"), (0, 8000), (0, 8000), "reactivation", 8000)
    change(at(11, 25), "a1", ("active", "past_due"), (6000, 6000), (11000, 11000))
    change(at(11, 30, 23, 30), "c1", ("", "active"), (0, 3000), (0, 3000), "new", 3000)
    change(at(12, 1, 0, 0), "a2", ("active", "cancelled"), (5000, 0), (11000, 6000),
           "contraction", 5000)
    change(at(12, 5), "b2", ("active", "non_renewing"), (8000, 8000), (8000, 8000))
    change(at(12, 11, 0, 0), "a1", ("past_due", "past_due"), (6000, 7000), (6000, 7000),
           "expansion", 1000)
    # The rows above were written directly, not by the batch writer: what it also keeps.
    rebuild_ledger_days()
    for name, first_paid_at in (("A", at(9, 5)), ("B", at(9, 10)), ("C", at(11, 30, 23, 30))):
        Customer.objects.filter(external_id=name).update(first_paid_at=first_paid_at)
    return subs


def rate(numerator, denominator, value, currency="", missing=()):
    return Rate(numerator=numerator, denominator=denominator,
                value=None if value is None else Decimal(value), currency=currency,
                missing_rates=missing)


# -- MRR over time -------------------------------------------------------------------------------

def test_mrr_series_at_each_month_end(story):
    points = metrics.mrr_series(months=5, today=TODAY)
    assert [p.month for p in points] == [date(2026, m, 1) for m in (8, 9, 10, 11, 12)]
    assert [p.at for p in points] == [date(2026, 8, 31), date(2026, 9, 30), date(2026, 10, 31),
                                      date(2026, 11, 30), TODAY]
    august, september, october, november, december = points
    # August: nobody pays yet.
    assert (august.mrr.amount, august.mrr.breakdown, august.paying_customers,
            august.active_subscriptions) == (0, {}, 0, 0)
    # 30 Sep: USD 10000 + EUR 20000 x 1.10 = 10000 + 22000.
    assert september.mrr.amount == 32000
    assert september.mrr.breakdown == {"EUR": 20000, "USD": 10000}
    assert (september.paying_customers, september.active_subscriptions) == (2, 2)
    # 31 Oct: B churned; A pays 10000 + 5000.
    assert october.mrr.amount == 15000 and october.mrr.breakdown == {"USD": 15000}
    assert (october.paying_customers, october.active_subscriptions) == (1, 2)
    # 30 Nov (EUR now 1.20): USD 6000 + 5000, EUR 8000 -> 9600, GBP 3000 without a rate.
    assert november.mrr.amount == 11000 + 9600
    assert november.mrr.breakdown == {"EUR": 8000, "GBP": 3000, "USD": 11000}
    assert november.mrr.missing_rates == ("GBP",) and november.missing_rates == ("GBP",)
    assert (november.paying_customers, november.active_subscriptions) == (3, 4)
    # Today: a2 cancelled on 1 Dec; the upgrade of 11 Dec is not there yet.
    assert december.mrr.amount == 6000 + 9600
    assert december.mrr.breakdown == {"EUR": 8000, "GBP": 3000, "USD": 6000}
    assert (december.paying_customers, december.active_subscriptions) == (3, 3)
    assert december.mrr.basis == "at each month end"


# -- movements -------------------------------------------------------------------------------------

def test_movements_by_month_at_the_rate_of_their_day(story):
    months = metrics.movements_by_month(months=5, today=TODAY)
    august, september, october, november, december = months
    assert august.net_new.amount == 0 and august.counts == metrics.MovementCounts(0, 0, 0, 0, 0)
    assert august.complete and august.until == date(2026, 8, 31)
    # September: new USD 10000 + EUR 20000 x 1.10.
    assert september.new.amount == 10000 + 22000
    assert september.new.breakdown == {"EUR": 20000, "USD": 10000}
    assert september.net_new.amount == 32000
    assert september.counts == metrics.MovementCounts(new=2, expansion=0, contraction=0,
                                                      churn=0, reactivation=0)
    # October: churn EUR 20000 x 1.10; expansion USD 5000.
    assert (october.churn.amount, october.expansion.amount) == (22000, 5000)
    assert october.net_new.amount == 5000 - 22000
    assert (october.counts.churn, october.counts.expansion) == (1, 1)
    # November: contraction 4000; reactivation EUR 8000 x 1.20 (20 Nov); new GBP 3000 late on
    # 30 Nov, no rate.
    assert november.contraction.amount == 4000
    assert november.reactivation.amount == 9600
    assert november.new.amount is None and november.new.missing_rates == ("GBP",)
    assert november.new.breakdown == {"GBP": 3000}
    assert november.net_new.amount == 9600 - 4000
    assert november.net_new.breakdown == {"EUR": 8000, "GBP": 3000, "USD": -4000}
    assert november.missing_rates == ("GBP",)
    assert november.net_new.basis == "at the time of each movement"
    # December to date: the contraction at midnight on 1 Dec; not the upgrade of 11 Dec.
    assert not december.complete and december.until == TODAY
    assert december.contraction.amount == 5000 and december.expansion.amount == 0
    assert december.net_new.amount == -5000
    assert december.counts == metrics.MovementCounts(new=0, expansion=0, contraction=1,
                                                     churn=0, reactivation=0)


# -- churn rates -----------------------------------------------------------------------------------

def test_churn_rates_by_month(story):
    september, october, november, december = metrics.churn_rates_by_month(months=4,
                                                                         today=TODAY)
    # Nobody paid at the start of September: every rate is "-", not 0 %.
    assert september.paying_customers_at_start == 0
    assert september.logo_churn == rate(0, 0, None)
    assert september.gross_mrr_churn == rate(0, 0, None, "USD")
    assert september.net_mrr_churn == rate(0, 0, None, "USD")
    # October: B of A and B churned; MRR on 30 Sep 10000 + 22000 = 32000 (EUR at 1.10);
    # churn 22000; net: 22000 - expansion 5000.
    assert october.logo_churn == rate(1, 2, "0.5")
    assert october.gross_mrr_churn == rate(22000, 32000, "0.6875", "USD")
    assert october.net_mrr_churn == rate(17000, 32000, "0.53125", "USD")
    # November: A alone paid on 31 Oct (15000); contraction 4000; reactivation 9600.
    assert november.logo_churn == rate(0, 1, "0")
    assert november.gross_mrr_churn == rate(4000, 15000, "0.266667", "USD")  # 0.2666..
    assert november.net_mrr_churn == rate(-5600, 15000, "-0.373333", "USD")  # -0.37333..
    assert november.missing_rates == ()
    # December: 3 paying on 30 Nov, MRR 11000 + 9600 (GBP left out, and said so).
    assert december.paying_customers_at_start == 3
    assert december.logo_churn == rate(0, 3, "0")
    assert december.gross_mrr_churn == rate(5000, 20600, "0.242718", "USD", ("GBP",))
    assert december.net_mrr_churn == rate(5000, 20600, "0.242718", "USD", ("GBP",))
    assert december.missing_rates == ("GBP",)


# -- net revenue retention -------------------------------------------------------------------------

def test_nrr_of_the_customers_paying_at_the_start(story):
    # Paying at the end of 10 Oct: A alone (10000 USD; B had churned). A now: 6000.
    two = metrics.nrr(today=TODAY, months=2)
    assert (two.start, two.end, two.customers) == (date(2026, 10, 10), TODAY, 1)
    assert (two.mrr_then.amount, two.mrr_now.amount) == (10000, 6000)
    assert two.rate == rate(6000, 10000, "0.6", "USD")
    # Paying at the end of 10 Sep: A (10000 USD) and B (20000 EUR). Now A 6000, B 8000 EUR.
    # Both at today's rate (EUR 1.20): 10000 + 24000 = 34000 then, 6000 + 9600 = 15600 now.
    three = metrics.nrr(today=TODAY, months=3)
    assert three.customers == 2
    assert three.mrr_then.breakdown == {"EUR": 20000, "USD": 10000}
    assert three.mrr_now.breakdown == {"EUR": 8000, "USD": 6000}
    assert three.rate == rate(15600, 34000, "0.458824", "USD")  # 0.4588235..
    assert three.mrr_now.basis == "today"
    # A year ago nobody paid: "-".
    year = metrics.nrr(today=TODAY)
    assert year.customers == 0 and year.rate == rate(0, 0, None, "USD")


def test_nrr_keeps_a_currency_without_rate_out_and_says_so(story):
    # Paying at the end of 30 Nov: A, B and C (GBP). C's MRR converts nowhere.
    result = metrics.nrr(today=date(2026, 12, 31), months=1)
    assert result.customers == 3
    # Then: USD 11000 + EUR 9600; now (the upgrade of 11 Dec included): USD 7000 + 9600.
    assert result.rate == rate(16600, 20600, "0.805825", "USD", ("GBP",))  # 0.8058252..
    assert result.missing_rates == ("GBP",)


# -- the overview ----------------------------------------------------------------------------------

def test_overview_tiles_and_their_previous_period(story):
    result = metrics.overview(today=TODAY)
    assert result.currency == "USD"
    # MRR now and at the end of November, both at today's rates (EUR 1.20).
    assert result.mrr.value.amount == 6000 + 9600
    assert result.mrr.previous.amount == 11000 + 9600
    assert result.mrr.change == -5000
    assert result.mrr.value.basis == result.mrr.previous.basis == "today"
    assert result.arr.value.amount == 12 * 15600 and result.arr.previous.amount == 12 * 20600
    assert result.arr.value.breakdown == {"EUR": 96000, "GBP": 36000, "USD": 72000}
    assert (result.active_subscriptions.value, result.active_subscriptions.previous) == (3, 4)
    assert (result.paying_customers.value, result.paying_customers.previous) == (3, 3)
    # Net new MRR: December to date -5000; the whole of November 9600 - 4000.
    assert result.net_new_mrr.value.amount == -5000
    assert result.net_new_mrr.previous.amount == 5600
    assert result.this_month.contraction.amount == 5000
    # Churn rates: November against October.
    assert result.logo_churn.value == rate(0, 1, "0")
    assert result.logo_churn.previous == rate(1, 2, "0.5")
    assert result.logo_churn.change == Decimal("-0.5")
    assert result.gross_mrr_churn.value.value == Decimal("0.266667")
    assert result.gross_mrr_churn.previous.value == Decimal("0.6875")
    assert result.net_mrr_churn.value.value == Decimal("-0.373333")
    assert result.net_mrr_churn.previous.value == Decimal("0.53125")
    # Nobody paid a year ago: NRR is "-", and so is its change.
    assert result.nrr.value == rate(0, 0, None, "USD")
    assert result.nrr.change is None
    assert result.net_revenue_retention.start == date(2025, 12, 10)
    # GBP has no rate: the overview says so.
    assert result.missing_rates == ("GBP",)
    assert any("GBP" in warning for warning in result.warnings)


def test_dashboard_is_the_same_figures_from_one_read(story):
    page = metrics.dashboard(today=TODAY, months=4)
    assert page.overview == metrics.overview(today=TODAY)
    assert list(page.mrr_series) == metrics.mrr_series(months=4, today=TODAY)
    assert list(page.movements) == metrics.movements_by_month(months=4, today=TODAY)
    assert list(page.churn_rates) == metrics.churn_rates_by_month(months=4, today=TODAY)
    assert page.missing_rates == ("GBP",)
    # One month shown: the overview still has last month and the month before.
    assert metrics.dashboard(today=TODAY, months=1).overview == page.overview


def test_without_any_data_every_rate_is_a_dash(settings):
    settings.SUBSYNC_REPORTING_CURRENCY = "USD"
    result = metrics.overview(today=TODAY)
    assert result.mrr.value.amount == 0 and result.mrr.change == 0
    assert result.paying_customers.value == 0
    for kpi in (result.logo_churn, result.gross_mrr_churn, result.net_mrr_churn, result.nrr):
        assert kpi.value.value is None and kpi.previous.value is None
    assert result.missing_rates == () and result.warnings == ()


def test_months_out_of_range_are_refused():
    for months in (0, -1, metrics.MAX_MONTHS + 1):
        with pytest.raises(ValueError, match="months"):
            metrics.mrr_series(months=months, today=TODAY)


# -- the number of queries does not grow with the rows ----------------------------------------

def count_queries(function) -> int:
    with CaptureQueriesContext(connection) as queries:
        function()
    return len(queries)


def test_queries_do_not_grow_with_the_ledger(story):
    calls = {
        "overview": lambda: metrics.overview(today=TODAY),
        "mrr_series": lambda: metrics.mrr_series(today=TODAY),
        "movements_by_month": lambda: metrics.movements_by_month(today=TODAY),
        "churn_rates_by_month": lambda: metrics.churn_rates_by_month(today=TODAY),
        "nrr": lambda: metrics.nrr(today=TODAY),
        "dashboard": lambda: metrics.dashboard(today=TODAY),
    }
    before = {name: count_queries(call) for name, call in calls.items()}
    jit = int(connection.vendor == "postgresql")  # SET LOCAL jit = off before the NRR query
    assert before == {"overview": 5 + jit, "mrr_series": 4, "movements_by_month": 4,
                      "churn_rates_by_month": 4, "nrr": 2 + jit, "dashboard": 5 + jit}
    customer = Customer.objects.create(provider="braintree", external_id="D")
    for month in range(1, 13):
        sub = Subscription.objects.create(provider="braintree", external_id=f"d{month}",
                                          customer=customer, status="active", currency="EUR",
                                          mrr=100)
        SubscriptionChange.objects.create(
            subscription=sub, customer=customer, occurred_at=datetime(2026, month, 2, tzinfo=UTC),
            status_before="", status_after="active", mrr_before=0, mrr_after=100,
            customer_mrr_before=100 * (month - 1), customer_mrr_after=100 * month,
            currency="EUR", movement="new" if month == 1 else "expansion", movement_amount=100)
    rebuild_ledger_days()
    assert {name: count_queries(call) for name, call in calls.items()} == before
