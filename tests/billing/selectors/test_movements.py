"""The ledger rows behind the movement figures, with each kind's total."""

from __future__ import annotations

import datetime as dt

import pytest

from billing.selectors.movements import MovementFilters, list_movements
from billing.selectors.params import InvalidParameters, PageRequest
from tests.billing.selectors.factories import at, change, customer, rate, subscription

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 12, 15)


@pytest.fixture
def ledger():
    """Acme (USD): new 50.00 in Nov, expansion 20.00 in Nov, churn 70.00 in Dec.
    Beta (EUR at 1.10): new 10.00 in Nov. A trial start in Nov moves nothing."""
    rate("EUR", "1.10")
    acme = subscription(customer("Acme"), mrr=0, status="cancelled", plan_id="pro")
    beta = subscription(customer("Beta"), mrr=1000, currency="EUR", plan_id="team")
    trial = subscription(customer("Gamma"), status="trial")
    change(acme, when=at(2026, 11, 2), before="", after="active", mrr_after=5000,
           movement="new", amount=5000)
    change(acme, when=at(2026, 11, 20), before="active", after="active", mrr_before=5000,
           mrr_after=7000, movement="expansion", amount=2000)
    change(beta, when=at(2026, 11, 5), before="", after="active", mrr_after=1000,
           movement="new", amount=1000)
    change(trial, when=at(2026, 11, 6), before="", after="trial")
    change(acme, when=at(2026, 12, 3), before="active", after="cancelled", mrr_before=7000,
           movement="churn", amount=7000)
    return acme, beta


def test_a_months_new_customers_with_their_converted_total(ledger):
    result = list_movements(
        filters=MovementFilters.from_query({"from": "2026-11", "to": "2026-11",
                                            "movement": "new"}, today=TODAY),
        page=PageRequest())
    assert [(row.customer_name, row.amount, row.currency) for row in result.rows.items] == [
        ("Beta", 1000, "EUR"), ("Acme", 5000, "USD")]  # newest first
    # 50.00 USD + 10.00 EUR at 1.10 = 61.00 USD
    assert result.totals["new"].amount == 6100
    assert result.totals["new"].breakdown == {"EUR": 1000, "USD": 5000}
    assert result.counts == {"new": 2}


def test_every_kind_over_the_period_leaves_out_changes_that_moved_nothing(ledger):
    result = list_movements(filters=MovementFilters.from_query({}, today=TODAY),
                            page=PageRequest())
    assert [row.movement for row in result.rows.items] == ["churn", "expansion", "new", "new"]
    assert result.counts == {"new": 2, "expansion": 1, "contraction": 0, "churn": 1,
                             "reactivation": 0}
    assert result.totals["churn"].amount == 7000
    assert result.totals["contraction"].amount == 0


@pytest.mark.parametrize("query", [{}, {"provider": "chargebee"}, {"movement": "new"}])
def test_the_pages_count_every_movement_row_of_the_period(ledger, query):
    # Four movements from November on (the trial start moves nothing), two of them new; all
    # of Chargebee. Without a provider the count comes from LedgerDay, with one from the rows.
    page = list_movements(filters=MovementFilters.from_query(query, today=TODAY),
                          page=PageRequest(size=1))
    assert page.rows.total == (2 if "movement" in query else 4)
    assert len(page.rows.items) == 1


def test_a_missing_rate_is_a_warning_not_a_one(ledger):
    from billing.models import ExchangeRate

    ExchangeRate.objects.all().delete()
    result = list_movements(filters=MovementFilters.from_query({"movement": "new"},
                                                               today=TODAY),
                            page=PageRequest())
    assert result.totals["new"].amount == 5000
    assert result.totals["new"].missing_rates == ("EUR",)
    assert result.warnings and "EUR" in result.warnings[0]


def test_an_unknown_kind_is_refused_by_name():
    with pytest.raises(InvalidParameters) as refused:
        MovementFilters.from_query({"movement": "windfall"}, today=TODAY)
    assert "movement" in refused.value.errors
