"""Exchange rates: which rate is in force, conversion between minor units, totals that say
what they could not convert. Expected figures are worked out by hand in each test."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction

from billing.admin import ExchangeRateForm
from billing.models import Customer, ExchangeRate, Subscription
from billing.selectors import fx

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _report_in_usd(settings):
    settings.SUBSYNC_REPORTING_CURRENCY = "USD"


def rate(currency: str, value: str, valid_from: date) -> ExchangeRate:
    return ExchangeRate.objects.create(currency=currency, rate=Decimal(value),
                                       valid_from=valid_from)


def rates(**values: str) -> fx.Rates:
    """Rates for a conversion test, without the database."""
    table = {code: Decimal(value) for code, value in values.items()}
    table.setdefault("USD", Decimal(1))
    return fx.Rates(reporting_currency="USD", day=date(2026, 12, 1), rates=table)


# -- the model ---------------------------------------------------------------------------------

def test_rate_must_be_positive_and_currency_an_upper_case_code():
    with pytest.raises(ValidationError) as error:
        ExchangeRate(currency="eur", rate=Decimal("0"), valid_from=date(2026, 1, 1)).full_clean()
    assert set(error.value.message_dict) == {"currency", "rate"}
    with pytest.raises(ValidationError) as error:
        ExchangeRate(currency="EUR", rate=Decimal("-1.08"),
                     valid_from=date(2026, 1, 1)).full_clean()
    assert set(error.value.message_dict) == {"rate"}
    ExchangeRate(currency="EUR", rate=Decimal("1.08"), valid_from=date(2026, 1, 1)).full_clean()


def test_the_database_refuses_what_validation_refuses():
    for currency, value in (("EUR", "0"), ("EUR", "-2"), ("eur", "1.08"), ("EURO", "1.08")):
        # PostgreSQL refuses a fourth letter as too long (DataError) before any check.
        with pytest.raises((IntegrityError, DataError)), transaction.atomic():
            ExchangeRate.objects.create(currency=currency, rate=Decimal(value),
                                        valid_from=date(2026, 1, 1))
    assert not ExchangeRate.objects.exists()


def test_one_rate_per_currency_and_day():
    rate("EUR", "1.08", date(2026, 1, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        rate("EUR", "1.10", date(2026, 1, 1))
    rate("EUR", "1.10", date(2026, 1, 2))
    rate("GBP", "1.27", date(2026, 1, 1))
    assert ExchangeRate.objects.count() == 3


def test_admin_form_takes_the_code_as_typed():
    form = ExchangeRateForm(data={"currency": " eur ", "rate": "1.08",
                                  "valid_from": "2026-01-01"})
    assert form.is_valid(), form.errors
    assert form.save().currency == "EUR"
    refused = ExchangeRateForm(data={"currency": "EUR", "rate": "0", "valid_from": "2026-02-01"})
    assert not refused.is_valid() and "rate" in refused.errors
    twice = ExchangeRateForm(data={"currency": "eur", "rate": "1.2", "valid_from": "2026-01-01"})
    assert not twice.is_valid()


# -- which rate is in force ----------------------------------------------------------------------

def test_rates_on_a_day_are_the_latest_that_took_effect_by_then(django_assert_num_queries):
    rate("EUR", "1.05", date(2026, 1, 1))
    rate("EUR", "1.08", date(2026, 6, 1))
    rate("EUR", "1.20", date(2027, 1, 1))  # not yet
    rate("GBP", "1.27", date(2026, 6, 2))  # from the day after
    rate("USD", "3", date(2026, 1, 1))  # the reporting currency is 1 whatever the table says
    with django_assert_num_queries(1):
        on = fx.rates_on(day=date(2026, 6, 1))
    assert on.reporting_currency == "USD" and on.day == date(2026, 6, 1)
    assert on.currencies == {"USD", "EUR"}
    assert on.rate("EUR") == Decimal("1.08") and on.rate("USD") == 1
    assert on.valid_from == {"EUR": date(2026, 6, 1)}
    assert not on.has("GBP") and on.rate("GBP") is None
    assert fx.rates_on(day=date(2026, 6, 2)).rate("GBP") == Decimal("1.27")
    assert fx.rates_on(day=date(2025, 12, 31)).currencies == {"USD"}


def test_rate_history_answers_any_day_from_one_query(django_assert_num_queries):
    rate("EUR", "1.05", date(2026, 1, 1))
    rate("EUR", "1.08", date(2026, 6, 1))
    with django_assert_num_queries(1):
        history = fx.rate_history(until=date(2026, 12, 31))
    with django_assert_num_queries(0):
        assert history.on(date(2025, 12, 31)).rate("EUR") is None
        assert history.on(date(2026, 5, 31)).rate("EUR") == Decimal("1.05")
        assert history.on(date(2026, 12, 31)).rate("EUR") == Decimal("1.08")


def test_reporting_currency_comes_from_the_setting(settings):
    settings.SUBSYNC_REPORTING_CURRENCY = "EUR"
    assert fx.reporting_currency() == "EUR"
    assert fx.rates_on(day=date(2026, 1, 1)).rates == {"EUR": 1}


# -- conversion ------------------------------------------------------------------------------------

def test_convert_between_minor_units_of_each_currency():
    table = rates(EUR="1.08", JPY="0.0067", KWD="3.25")
    # 10.00 EUR x 1.08 = 10.80 USD
    assert fx.convert(amount=1000, currency="EUR", rates=table) == 1080
    # 10000 JPY (no minor unit) x 0.0067 = 67.00 USD
    assert fx.convert(amount=10000, currency="JPY", rates=table) == 6700
    # 1.500 KWD (3 decimals) x 3.25 = 4.875 USD = 487.5 cents -> 488 (half up)
    assert fx.convert(amount=1500, currency="KWD", rates=table) == 488
    # 1.499 KWD x 3.25 = 4.87175 USD -> 487 cents
    assert fx.convert(amount=1499, currency="KWD", rates=table) == 487
    assert fx.convert(amount=1234, currency="USD", rates=table) == 1234
    # Negative amounts (movements downwards) round away from zero on a half, like positive ones.
    assert fx.convert(amount=-1500, currency="KWD", rates=table) == -488


def test_convert_into_a_currency_without_minor_units(settings):
    table = fx.Rates(reporting_currency="JPY", day=date(2026, 1, 1),
                     rates={"JPY": Decimal(1), "USD": Decimal("150.5"), "KWD": Decimal("490")})
    # 12.34 USD x 150.5 = 1857.17 JPY -> 1857
    assert fx.convert(amount=1234, currency="USD", rates=table) == 1857
    # 0.001 KWD x 490 = 0.49 JPY -> 0; 0.002 KWD = 0.98 -> 1
    assert fx.convert(amount=1, currency="KWD", rates=table) == 0
    assert fx.convert(amount=2, currency="KWD", rates=table) == 1


def test_a_missing_rate_is_never_one():
    assert fx.convert(amount=1000, currency="GBP", rates=rates(EUR="1.08")) is None


# -- totals --------------------------------------------------------------------------------------

def test_total_converts_each_currency_and_names_the_missing_ones():
    result = fx.total(amounts={"USD": 1000, "EUR": 1000, "GBP": 500, "JPY": 0},
                      rates=rates(EUR="1.08"), basis=fx.BASIS_TODAY)
    # 10.00 USD + 10.80 USD (the EUR); GBP has no rate and is left out; JPY 0 is nothing.
    assert result.amount == 2080
    assert result.currency == "USD"
    assert result.breakdown == {"EUR": 1000, "GBP": 500, "USD": 1000}
    assert result.converted == {"EUR": 1080, "USD": 1000}
    assert result.missing_rates == ("GBP",)
    assert not result.complete and "GBP" in result.warning
    assert result.basis == "today"


def test_total_of_nothing_is_zero_and_of_only_unconvertible_amounts_is_none():
    empty = fx.total(amounts={}, rates=rates(), basis=fx.BASIS_TODAY)
    assert (empty.amount, empty.breakdown, empty.missing_rates) == (0, {}, ())
    assert empty.complete and empty.warning == ""
    lost = fx.total(amounts={"GBP": 500, "CHF": 10}, rates=rates(), basis=fx.BASIS_TODAY)
    assert lost.amount is None and lost.missing_rates == ("CHF", "GBP")


def test_combine_adds_totals_converted_at_different_rates():
    june = fx.total(amounts={"EUR": 1000}, rates=rates(EUR="1.05"), basis=fx.BASIS_AT_MOVEMENT)
    july = fx.total(amounts={"EUR": 1000, "GBP": 300}, rates=rates(EUR="1.10"),
                    basis=fx.BASIS_AT_MOVEMENT)
    both = fx.combine(totals=[june, july], currency="USD", basis=fx.BASIS_AT_MOVEMENT)
    # 1050 + 1100 cents; GBP had no rate in July
    assert both.amount == 2150
    assert both.breakdown == {"EUR": 2000, "GBP": 300}
    assert both.missing_rates == ("GBP",)
    assert both.basis == "at the time of each movement"
    assert fx.combine(totals=[], currency="USD", basis=fx.BASIS_TODAY).amount == 0


# -- in SQL ----------------------------------------------------------------------------------------

def test_converted_expression_orders_and_sums_in_the_database(django_assert_num_queries):
    rate("EUR", "1.08", date(2026, 1, 1))
    rate("JPY", "0.0067", date(2026, 1, 1))
    rate("KWD", "3.25", date(2026, 1, 1))
    customer = Customer.objects.create(provider="chargebee", external_id="c1")
    for external_id, currency, mrr in (("usd", "USD", 2000), ("eur", "EUR", 1000),
                                       ("jpy", "JPY", 10000), ("kwd", "KWD", 1500),
                                       ("gbp", "GBP", 9999)):
        Subscription.objects.create(provider="chargebee", external_id=external_id,
                                    customer=customer, status="active", currency=currency,
                                    mrr=mrr)
    table = fx.rates_on(day=date(2026, 6, 1))
    with django_assert_num_queries(1):
        rows = list(
            Subscription.objects.annotate(usd=fx.converted_expression("mrr", rates=table))
            .filter(usd__isnull=False).order_by("-usd").values_list("external_id", "usd")
        )
    # JPY 10000 -> 6700; USD 2000; EUR 1000 -> 1080; KWD 1.500 -> 487.5 -> 488; GBP no rate
    assert rows == [("jpy", 6700), ("usd", 2000), ("eur", 1080), ("kwd", 488)]
    missing = Subscription.objects.annotate(
        usd=fx.converted_expression("mrr", rates=table)).get(external_id="gbp")
    assert missing.usd is None


def test_times_scales_every_amount():
    mrr = fx.total(amounts={"USD": 1000, "EUR": 500, "GBP": 7}, rates=rates(EUR="1.08"),
                   basis=fx.BASIS_TODAY)
    arr = mrr.times(12)
    # (1000 + 540) x 12; GBP still missing
    assert (arr.amount, arr.breakdown, arr.converted) == (
        18480, {"EUR": 6000, "GBP": 84, "USD": 12000}, {"EUR": 6480, "USD": 12000})
    assert arr.missing_rates == ("GBP",) and arr.basis == "today"
    lost = fx.total(amounts={"GBP": 7}, rates=rates(), basis=fx.BASIS_TODAY).times(-1)
    assert lost.amount is None and lost.breakdown == {"GBP": -7}
