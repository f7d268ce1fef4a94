"""Churn from the ledger: which changes count, months, reasons, plans, contraction, rates.

Rates (reporting currency USD): 1 EUR = 1.10 USD until 31 Jan 2027, 1.20 USD from 1 Feb 2027;
no GBP rate.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.selectors.churn import NO_REASON, ChurnFilters, churn_report, churned_subscriptions
from billing.selectors.params import InvalidParameters, PageRequest
from tests.billing.selectors.factories import at, change, customer, rate, subscription

pytestmark = pytest.mark.django_db
JAN, FEB, MAR = dt.date(2027, 1, 1), dt.date(2027, 2, 1), dt.date(2027, 3, 1)
PERIOD = ChurnFilters(first_month=JAN, last_month=MAR)


@pytest.fixture
def ledger(settings):
    settings.SUBSYNC_REPORTING_CURRENCY = "USD"
    rate("EUR", "1.10")
    rate("EUR", "1.20", since=FEB)

    def lost(name, *, when, mrr, currency="USD", reason="", plan="basic", before="active",
             after="cancelled", provider="chargebee"):
        sub = subscription(customer(name, provider=provider), external_id=name, currency=currency,
                           status=after, cancel_reason=reason, plan_id=plan)
        change(sub, when=when, before=before, after=after, mrr_before=mrr,
               movement="churn" if mrr else "none", amount=mrr)
        return sub

    a = lost("a", when=at(2027, 1, 5), mrr=10_000, reason="too expensive")
    lost("b", when=at(2027, 1, 15), mrr=10_000, currency="EUR")
    lost("c", when=at(2027, 2, 10), mrr=10_000, currency="EUR", reason="too expensive",
         plan="pro", before="non_renewing", after="expired")
    lost("d", when=at(2027, 2, 20), mrr=5_000, currency="GBP", plan="pro")
    # not churn: a trial ending, cancelled -> expired, first seen already cancelled,
    # outside the period, another provider (unless filtered on)
    lost("trial", when=at(2027, 1, 7), mrr=0, before="trial")
    lost("again", when=at(2027, 1, 8), mrr=0, before="cancelled", after="expired")
    lost("backfilled", when=at(2027, 1, 9), mrr=0, before="")
    lost("december", when=at(2026, 12, 31, 23, 59, 59), mrr=70_000)
    lost("april", when=at(2027, 4, 1), mrr=70_000)
    lost("bt", when=at(2027, 1, 20), mrr=3_000, provider="braintree")
    change(a, when=at(2027, 1, 3), before="active", after="active", mrr_before=12_000,
           mrr_after=10_000, movement="contraction", amount=2_000)


def test_months_with_lost_mrr_at_each_days_rate_and_contraction(ledger):
    report = churn_report(filters=ChurnFilters(first_month=JAN, last_month=MAR,
                                               provider="chargebee"))
    jan, feb, mar = report.months
    assert [m.month for m in report.months] == [JAN, FEB, MAR]
    # January: USD 100.00 + EUR 100.00 at 1.10
    assert (jan.subscriptions, jan.customers, jan.lost_mrr.amount) == (2, 2, 21_000)
    assert jan.lost_mrr.breakdown == {"EUR": 10_000, "USD": 10_000}
    assert (jan.contraction.amount, jan.contraction.breakdown) == (2_000, {"USD": 2_000})
    # February: EUR 100.00 at 1.20, GBP 50.00 without a rate
    assert (feb.subscriptions, feb.lost_mrr.amount) == (2, 12_000)
    assert feb.lost_mrr.missing_rates == ("GBP",)
    assert (mar.subscriptions, mar.lost_mrr.amount, mar.contraction.amount) == (0, 0, 0)
    assert report.lost_mrr.amount == 33_000 and report.subscriptions == 4
    assert report.lost_mrr.basis == "at the time of each movement"
    assert any("GBP" in warning for warning in report.warnings)


def test_by_reason_and_by_plan(ledger):
    report = churn_report(filters=ChurnFilters(first_month=JAN, last_month=MAR,
                                               provider="chargebee"))
    assert [(g.key, g.subscriptions, g.lost_mrr.amount) for g in report.by_reason] == [
        ("too expensive", 2, 22_000), (NO_REASON, 2, 11_000)]
    assert report.by_reason[1].lost_mrr.missing_rates == ("GBP",)
    assert [(g.key, g.subscriptions, g.lost_mrr.amount) for g in report.by_plan] == [
        ("basic", 2, 21_000), ("pro", 2, 12_000)]


def test_provider_filter(ledger):
    report = churn_report(filters=ChurnFilters(first_month=JAN, last_month=JAN,
                                               provider="braintree"))
    assert (report.subscriptions, report.lost_mrr.amount) == (1, 3_000)
    assert report.contraction.amount == 0
    both = churn_report(filters=ChurnFilters(first_month=JAN, last_month=JAN))
    assert both.subscriptions == 3


def test_contraction_of_every_provider_by_month(ledger):
    bt = subscription(customer("bt2", provider="braintree"), currency="EUR")
    change(bt, when=at(2027, 3, 31, 23, 59), before="active", after="active", mrr_before=5_000,
           mrr_after=4_000, movement="contraction", amount=1_000)
    report = churn_report(filters=PERIOD)
    jan, feb, mar = report.months
    assert (jan.contraction.amount, feb.contraction.amount) == (2_000, 0)
    # EUR 10.00 at 1.20 (in force since February)
    assert (mar.contraction.amount, mar.contraction.breakdown) == (1_200, {"EUR": 1_000})
    assert report.contraction.amount == 3_200


def test_churned_rows_newest_first_and_narrowed(ledger):
    filters = ChurnFilters(first_month=JAN, last_month=MAR, provider="chargebee")
    page = churned_subscriptions(filters=filters, page=PageRequest())
    assert [row.external_id for row in page.items] == ["d", "c", "b", "a"]
    assert [(r.reason, r.lost_mrr, r.currency, r.status) for r in page.items[1:3]] == [
        ("too expensive", 10_000, "EUR", "expired"), (NO_REASON, 10_000, "EUR", "cancelled")]
    narrowed = churned_subscriptions(filters=filters, page=PageRequest(), reason=NO_REASON)
    assert [row.external_id for row in narrowed.items] == ["d", "b"]
    assert [row.external_id for row in churned_subscriptions(
        filters=filters, page=PageRequest(), plan="pro").items] == ["d", "c"]


@pytest.mark.parametrize(("reason", "plan", "total", "queries"), [
    ("", "", 4, 1), (NO_REASON, "", 2, 1), ("too expensive", "", 2, 1), ("", "pro", 2, 1),
    ("", "basic", 2, 1), ("unheard of", "", 0, 1),
    (NO_REASON, "pro", 1, 2),  # no group of the report holds both: counted
])
def test_the_reports_counts_are_the_rows_total(ledger, reason, plan, total, queries):
    # Chargebee, January to March: a (too expensive, basic), b (no reason, basic),
    # c (too expensive, pro), d (no reason, pro).
    filters = ChurnFilters(first_month=JAN, last_month=MAR, provider="chargebee")
    report = churn_report(filters=filters)
    with CaptureQueriesContext(connection) as context:
        page = churned_subscriptions(filters=filters, page=PageRequest(size=1), reason=reason,
                                     plan=plan, report=report)
    assert (page.total, len(context.captured_queries)) == (total, queries)
    other = churn_report(filters=PERIOD)  # every provider: its counts are not these rows'
    assert churned_subscriptions(filters=filters, page=PageRequest(size=1), reason=reason,
                                 plan=plan, report=other).total == total


def test_report_queries_do_not_grow_with_the_ledger(ledger):
    def count():
        with CaptureQueriesContext(connection) as context:
            churn_report(filters=PERIOD)
        return len(context.captured_queries)

    before = count()
    for index in range(20):
        sub = subscription(customer(f"more{index}"), currency="EUR", status="cancelled")
        change(sub, when=at(2027, 3, 1 + index), before="active", after="cancelled",
               mrr_before=100, movement="churn", amount=100)
    assert count() == before == 4  # rates, churned rows, contraction (LedgerDay), customers


def test_query_parameters():
    today = dt.date(2027, 5, 20)
    assert ChurnFilters.from_query({}, today=today) == ChurnFilters(
        first_month=dt.date(2026, 6, 1), last_month=dt.date(2027, 5, 1))
    assert ChurnFilters.from_query({"from": "2027-01", "to": "2027-03", "provider": "braintree"},
                                   today=today) == ChurnFilters(first_month=JAN, last_month=MAR,
                                                                provider="braintree")
    for query in ({"from": "2027-04", "to": "2027-03"}, {"from": "2020-01", "to": "2027-03"},
                  {"from": "2027-13"}, {"provider": "paypal"}):
        with pytest.raises(InvalidParameters):
            ChurnFilters.from_query(query, today=today)
