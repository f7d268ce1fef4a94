"""Renewals: windows, the renewal date, ordering by converted MRR, filters, pages, queries.

Rates used throughout (reporting currency USD): 1 EUR = 1.10 USD, 1 JPY = 0.0065 USD, no GBP.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.selectors.params import InvalidParameters, PageRequest
from billing.selectors.renewals import (
    RenewalFilters,
    Window,
    next_quarter,
    range_window,
    renewal_rows,
    renewals,
    renewals_summary,
    this_quarter,
)
from crm.models import ContractSync
from tests.billing.selectors.factories import at, customer, rate, subscription

pytestmark = pytest.mark.django_db
TODAY = dt.date(2027, 2, 15)
Q1 = Window(start=dt.date(2027, 1, 1), end=dt.date(2027, 4, 1), name="this_quarter")


@pytest.fixture(autouse=True)
def _rates(settings):
    settings.SUBSYNC_REPORTING_CURRENCY = "USD"
    rate("EUR", "1.10")
    rate("JPY", "0.0065")


def report(window=Q1, page=None, **filters):
    return renewals(filters=RenewalFilters(window=window, **filters),
                    page=page or PageRequest(), today=TODAY)


def listed(result) -> list[str]:
    return [row.external_id for group in result.groups.items for row in group.rows]


def test_quarters_are_calendar_quarters():
    assert this_quarter(today=TODAY) == Q1
    assert next_quarter(today=TODAY) == Window(start=dt.date(2027, 4, 1),
                                               end=dt.date(2027, 7, 1), name="next_quarter")
    assert next_quarter(today=dt.date(2027, 12, 31)) == Window(
        start=dt.date(2028, 1, 1), end=dt.date(2028, 4, 1), name="next_quarter")
    assert this_quarter(today=dt.date(2027, 10, 1)).end == dt.date(2028, 1, 1)


def test_window_edges_last_day_in_first_day_of_next_quarter_out():
    owner = customer("Edge Ltd")
    subscription(owner, external_id="last-second", current_term_end=at(2027, 3, 31, 23, 59, 59))
    subscription(owner, external_id="next-q", current_term_end=at(2027, 4, 1))
    subscription(owner, external_id="prev-q", current_term_end=at(2026, 12, 31, 23, 59, 59))
    subscription(owner, external_id="first", current_term_end=at(2027, 1, 1))
    assert listed(report()) == ["first", "last-second"]
    assert listed(report(window=next_quarter(today=TODAY))) == ["next-q"]


def test_contract_term_end_takes_precedence_over_current_term_end():
    owner = customer("Contracted")
    subscription(owner, external_id="contract", current_term_end=at(2027, 3, 1),
                 contract_term_end=at(2027, 5, 1))
    assert listed(report()) == []
    rows = listed(report(window=next_quarter(today=TODAY)))
    assert rows == ["contract"]
    (row,) = report(window=next_quarter(today=TODAY)).groups.items[0].rows
    assert row.renewal_at == at(2027, 5, 1)


def currencies_fixture():
    end = at(2027, 3, 15)
    x = customer("X dollars")
    subscription(x, external_id="x", mrr=100_000, currency="USD", current_term_end=end)
    y = customer("Y euros")
    subscription(y, external_id="y", mrr=100_000, currency="EUR", current_term_end=end)
    z = customer("Z yen")
    subscription(z, external_id="z", mrr=160_000, currency="JPY", current_term_end=end)
    w = customer("W pounds")
    subscription(w, external_id="w", mrr=500_000, currency="GBP", current_term_end=end)
    return x, y, z, w


def test_customers_ordered_by_converted_mrr_and_missing_rate_last_with_warning():
    currencies_fixture()
    result = report()
    # EUR 1000.00 = USD 1100.00; JPY 160000 = USD 1040.00; USD 1000.00; GBP has no rate.
    assert [g.customer_name for g in result.groups.items] == [
        "Y euros", "Z yen", "X dollars", "W pounds"]
    assert [g.subtotal.amount for g in result.groups.items] == [110_000, 104_000, 100_000, None]
    assert result.groups.items[3].subtotal.missing_rates == ("GBP",)
    total = result.mrr_at_stake
    assert total.amount == 110_000 + 104_000 + 100_000
    assert total.breakdown == {"EUR": 100_000, "GBP": 500_000, "JPY": 160_000, "USD": 100_000}
    assert total.missing_rates == ("GBP",)
    assert any("GBP" in warning for warning in result.warnings)
    assert (result.customers, result.subscriptions) == (4, 4)
    row = result.groups.items[1].rows[0]
    assert (row.mrr, row.currency, row.mrr_converted) == (160_000, "JPY", 104_000)


def test_flat_rows_follow_the_grouped_order():
    x, *_ = currencies_fixture()
    subscription(x, external_id="x-early", mrr=1, currency="USD",
                 current_term_end=at(2027, 1, 5))
    flat = [row.external_id for row in renewal_rows(filters=RenewalFilters(window=Q1),
                                                    today=TODAY)]
    assert flat == ["y", "z", "x-early", "x", "w"]
    assert flat == listed(report())


def test_a_customer_subtotal_adds_its_currencies():
    owner = customer("Two currencies")
    subscription(owner, mrr=20_000, currency="EUR", current_term_end=at(2027, 2, 1))
    subscription(owner, mrr=5_000, currency="USD", current_term_end=at(2027, 3, 1))
    (group,) = report().groups.items
    # EUR 200.00 = USD 220.00, plus USD 50.00
    assert group.subtotal.amount == 27_000
    assert group.subtotal.breakdown == {"EUR": 20_000, "USD": 5_000}


def test_statuses_flags_and_trials():
    owner = customer("Statuses")
    end = at(2027, 3, 1)
    for status in ("active", "past_due", "non_renewing", "trial", "cancelled", "paused",
                   "future", "expired"):
        subscription(owner, external_id=status, status=status, current_term_end=end)
    rows = report().groups.items[0].rows
    assert sorted(row.status for row in rows) == ["active", "non_renewing", "past_due"]
    flags = {row.status: (row.ending, row.past_due) for row in rows}
    assert flags == {"active": (False, False), "non_renewing": (True, False),
                     "past_due": (False, True)}
    assert listed(report(statuses=("non_renewing",))) == ["non_renewing"]


def test_filters_provider_plan_currency_and_minimum_in_reporting_currency():
    end = at(2027, 3, 1)
    owner = customer("Filters")
    subscription(owner, external_id="cb-pro-usd", plan_id="pro", mrr=100_000,
                 current_term_end=end)
    subscription(owner, external_id="bt-pro-usd", provider="braintree", plan_id="pro",
                 mrr=100_000, current_term_end=end)
    subscription(owner, external_id="cb-basic-usd", plan_id="basic", mrr=100_000,
                 current_term_end=end)
    # EUR 909.09 = USD 999.999 -> 1000.00 rounded; EUR 909.00 = USD 999.90.
    subscription(owner, external_id="cb-pro-eur-high", plan_id="pro", mrr=90_909,
                 currency="EUR", current_term_end=end)
    subscription(owner, external_id="cb-pro-eur-low", plan_id="pro", mrr=90_900,
                 currency="EUR", current_term_end=end)
    subscription(owner, external_id="cb-pro-gbp", plan_id="pro", mrr=900_000,
                 currency="GBP", current_term_end=end)

    def ids(**filters):
        return sorted(listed(report(**filters)))

    assert ids(provider="braintree") == ["bt-pro-usd"]
    assert ids(plan="basic") == ["cb-basic-usd"]
    assert ids(currency="EUR") == ["cb-pro-eur-high", "cb-pro-eur-low"]
    minimum = report(min_mrr=Decimal("1000"))
    assert sorted(listed(minimum)) == ["bt-pro-usd", "cb-basic-usd", "cb-pro-eur-high",
                                       "cb-pro-usd"]
    assert minimum.uncompared_currencies == ("GBP",)
    assert any("minimum MRR" in warning and "GBP" in warning for warning in minimum.warnings)


def test_billing_period_filter_in_months():
    end = at(2027, 3, 1)
    owner = customer("Periods")
    for name, period, unit in [("1y", 1, "year"), ("12m", 12, "month"), ("6m", 6, "month"),
                               ("52w", 52, "week"), ("51w", 51, "week"),
                               ("365d", 365, "day"), ("364d", 364, "day"), ("2y", 2, "year")]:
        subscription(owner, external_id=name, billing_period=period, billing_period_unit=unit,
                     current_term_end=end)
    # 52 weeks = 52 * 12/52 = 12 months; 365 days = 12 months; 51 weeks and 364 days are less.
    assert sorted(listed(report(min_period_months=12))) == ["12m", "1y", "2y", "365d", "52w"]
    assert sorted(listed(report(min_period_months=13))) == ["2y"]


def test_contract_id_from_contract_sync():
    owner = customer("Synced")
    sub = subscription(owner, external_id="s", current_term_end=at(2027, 3, 1))
    subscription(owner, external_id="t", current_term_end=at(2027, 3, 2))
    ContractSync.objects.create(subscription=sub, sf_contract_id="800000000000001AAA")
    rows = report().groups.items[0].rows
    assert [(row.external_id, row.sf_contract_id) for row in rows] == [
        ("s", "800000000000001AAA"), ("t", "")]


def test_pages_of_customers_keep_a_customer_together():
    end = at(2027, 3, 1)
    for index, mrr in enumerate([500, 400, 300, 200, 100]):
        owner = customer(f"C{index}")
        subscription(owner, external_id=f"c{index}-a", mrr=mrr, current_term_end=end)
        subscription(owner, external_id=f"c{index}-b", mrr=mrr, current_term_end=at(2027, 3, 2))
    second = report(page=PageRequest(number=2, size=2))
    assert [g.customer_name for g in second.groups.items] == ["C2", "C3"]
    assert listed(second) == ["c2-a", "c2-b", "c3-a", "c3-b"]
    assert (second.groups.total, second.groups.pages, second.customers,
            second.subscriptions) == (5, 3, 5, 10)
    assert second.mrr_at_stake.amount == 2 * (500 + 400 + 300 + 200 + 100)
    assert report(page=PageRequest(number=4, size=2)).groups.items == []


def queries(callable_) -> int:
    with CaptureQueriesContext(connection) as context:
        callable_()
    return len(context.captured_queries)


def test_query_count_does_not_grow_with_rows():
    end = at(2027, 3, 1)
    for index in range(20):
        owner = customer(f"Q{index}")
        sub = subscription(owner, mrr=1000 + index, currency=("USD", "EUR")[index % 2],
                           current_term_end=end)
        ContractSync.objects.create(subscription=sub, sf_contract_id=f"800{index:015d}")
    small = queries(lambda: report(page=PageRequest(size=2)))
    large = queries(lambda: report(page=PageRequest(size=20)))
    assert small == large
    filters = RenewalFilters(window=Q1, min_mrr=Decimal("1"))
    assert queries(lambda: report(page=PageRequest(size=2), min_mrr=Decimal("1"))) == queries(
        lambda: report(page=PageRequest(size=20), min_mrr=Decimal("1")))
    assert len(list(renewal_rows(filters=filters, today=TODAY))) == 20
    assert queries(lambda: list(renewal_rows(filters=filters, today=TODAY))) == 2


def test_summary_of_this_and_next_quarter():
    a, b = customer("A"), customer("B")
    subscription(a, mrr=10_000, current_term_end=at(2027, 3, 31))
    subscription(a, mrr=10_000, currency="EUR", status="non_renewing",
                 current_term_end=at(2027, 2, 1))
    subscription(b, mrr=5_000, status="past_due", current_term_end=at(2027, 1, 10))
    subscription(b, mrr=7_000, current_term_end=at(2027, 4, 1))
    subscription(b, mrr=9_000, status="trial", current_term_end=at(2027, 4, 2))
    summary = renewals_summary(today=TODAY)
    now, later = summary.this_quarter, summary.next_quarter
    assert (now.subscriptions, now.customers, now.ending, now.past_due) == (3, 2, 1, 1)
    assert now.mrr.amount == 10_000 + 11_000 + 5_000  # EUR 100.00 = USD 110.00
    assert (later.subscriptions, later.customers, later.ending, later.past_due) == (1, 1, 0, 0)
    assert later.mrr.amount == 7_000
    assert later.window == next_quarter(today=TODAY)


def test_query_parameters():
    filters = RenewalFilters.from_query(
        {"from": "2027-01-10", "to": "2027-01-20", "provider": "braintree", "currency": "eur",
         "status": "active,past_due", "min_mrr": "1000.50", "min_period_months": "12"},
        today=TODAY)
    assert filters == RenewalFilters(
        window=range_window(start=dt.date(2027, 1, 10), end=dt.date(2027, 1, 21)),
        provider="braintree", currency="EUR", statuses=("active", "past_due"),
        min_mrr=Decimal("1000.50"), min_period_months=12)
    assert RenewalFilters.from_query({}, today=TODAY).window == Q1
    assert RenewalFilters.from_query({"window": "next_quarter"},
                                     today=TODAY).window == next_quarter(today=TODAY)


@pytest.mark.parametrize("query, bad", [
    ({"window": "last_year"}, {"window"}),
    ({"window": "range", "from": "2027-01-01"}, {"to"}),
    ({"from": "2027-02-01", "to": "2027-01-01"}, {"to"}),
    ({"from": "2020-01-01", "to": "2027-01-01"}, {"to"}),
    ({"status": "trial"}, {"status"}),
    ({"min_mrr": "-5"}, {"min_mrr"}),
    ({"min_mrr": "NaN"}, {"min_mrr"}),
    ({"min_period_months": "yearly"}, {"min_period_months"}),
    ({"currency": "E1R", "provider": "stripe"}, {"currency", "provider"}),
])
def test_bad_query_parameters_are_named(query, bad):
    with pytest.raises(InvalidParameters) as caught:
        RenewalFilters.from_query(query, today=TODAY)
    assert set(caught.value.errors) == bad
