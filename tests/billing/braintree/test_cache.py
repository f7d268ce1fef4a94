"""DatabaseResolver: look-ups kept in the database, asked of the fake gateway only on a miss."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import BraintreeMerchantAccount, BraintreePaymentMethodCustomer, BraintreePlan
from billing.providers.braintree import cache as cache_module
from billing.providers.braintree.api import PlanInfo
from billing.providers.braintree.cache import MAX_AGE, DatabaseResolver, refresh_plans
from billing.providers.braintree.errors import BraintreeApiError
from billing.providers.braintree.normalize import to_ms
from billing.providers.braintree.resolver import Resolver
from emulator.braintree.server import FakeBraintreeServer
from tests.support.braintree_app import CUSTOMER, fake_gateway, seed

pytestmark = pytest.mark.django_db


@pytest.fixture
def server(keys):
    with FakeBraintreeServer(keys=keys) as fake:
        yield seed(fake)


@pytest.fixture
def built():
    """How many times a resolver built its gateway."""
    return []


@pytest.fixture
def resolver(server, built):
    def gateway():
        built.append(1)
        return fake_gateway(server)
    return DatabaseResolver(gateway=gateway)


def fresh(server, built):
    """Another resolver, as another worker (or the same one after a restart) would have."""
    def gateway():
        built.append(1)
        return fake_gateway(server)
    return DatabaseResolver(gateway=gateway)


def test_is_a_resolver(resolver):
    assert isinstance(resolver, Resolver)


def test_answers_survive_the_resolver_and_need_no_gateway(server, resolver, built):
    assert resolver.currency_for_merchant_account("eur_account") == "EUR"
    assert resolver.customer_for_payment_method("card_token_1").external_id == CUSTOMER.id
    assert resolver.plan("annual").billing_frequency == 12
    asked = len(server.requests)
    assert asked == 4  # merchant account, payment method, customer, plans

    other = fresh(server, built)
    assert other.currency_for_merchant_account("eur_account") == "EUR"
    customer = other.customer_for_payment_method("card_token_1")
    assert (customer.external_id, customer.email, customer.company, customer.first_name,
            customer.last_name) == (CUSTOMER.id, CUSTOMER.email, CUSTOMER.company,
                                    CUSTOMER.first_name, CUSTOMER.last_name)
    assert other.plan("annual") == PlanInfo(plan_id="annual", billing_frequency=12, price=24000,
                                            currency="EUR", name="Annual")
    assert len(server.requests) == asked
    assert built == [1]  # only the first resolver ever needed a gateway


def test_plans_are_listed_once_for_all_ids(server, resolver):
    assert resolver.plan("basic").price == 1000
    assert resolver.plan("annual").price == 24000
    assert server.paths() == ["/merchants/subsync_merchant/plans/"]
    assert set(BraintreePlan.objects.values_list("plan_id", flat=True)) == {"basic", "annual"}


def test_an_unknown_plan_refreshes_the_table_and_is_none(server, resolver):
    resolver.plan("basic")
    server.add_plan("new_plan", price="5.00", billing_frequency=3)
    assert resolver.plan("new_plan").billing_frequency == 3  # created since the last listing
    assert resolver.plan("never_existed") is None
    assert len(server.paths()) == 3


def test_refresh_mirrors_the_listing(server, resolver):
    resolver.plan("basic")
    del server.plans["annual"]
    server.plans["basic"]["price"] = "11.00"
    refresh_plans(gateway=fake_gateway(server))
    assert list(BraintreePlan.objects.values_list("plan_id", "price")) == [("basic", 1100)]


def test_old_plans_and_customers_are_read_again(server, resolver):
    resolver.plan("basic")
    resolver.customer_for_payment_method("card_token_1")
    resolver.currency_for_merchant_account("usd_account")
    old = timezone.now() - MAX_AGE - timedelta(minutes=1)
    for model in (BraintreePlan, BraintreePaymentMethodCustomer, BraintreeMerchantAccount):
        model.objects.update(refreshed_at=old)
    cache_module.forget_memos()  # what the process remembered for a minute: a day has passed
    server.customers[CUSTOMER.id]["email"] = "new@example.com"
    server.clear_log()

    assert resolver.customer_for_payment_method("card_token_1").email == "new@example.com"
    assert resolver.plan("basic").price == 1000
    assert resolver.currency_for_merchant_account("usd_account") == "USD"  # never changes
    assert server.paths() == [
        "/merchants/subsync_merchant/payment_methods/any/card_token_1",
        f"/merchants/subsync_merchant/customers/{CUSTOMER.id}",
        "/merchants/subsync_merchant/plans/",
    ]
    assert BraintreePaymentMethodCustomer.objects.get().email == "new@example.com"


def test_a_cached_customer_is_versioned_by_when_it_was_read(resolver):
    customer = resolver.customer_for_payment_method("card_token_1")
    row = BraintreePaymentMethodCustomer.objects.get(token="card_token_1")
    assert customer.source_version == to_ms(row.refreshed_at)


def test_errors_are_not_cached(server, resolver):
    server.fail_next(1, status=503)
    with pytest.raises(BraintreeApiError) as caught:
        resolver.currency_for_merchant_account("eur_account")
    assert caught.value.transient
    assert not BraintreeMerchantAccount.objects.exists()
    assert resolver.currency_for_merchant_account("eur_account") == "EUR"
    with pytest.raises(BraintreeApiError) as caught:
        resolver.customer_for_payment_method("no_such_token")
    assert caught.value.permanent and caught.value.status == 404
    assert not BraintreePaymentMethodCustomer.objects.filter(token="no_such_token").exists()


def test_subscriptions_are_always_asked_for(server, resolver):
    assert resolver.subscription("unknown") is None
    assert resolver.subscription("unknown") is None
    assert len(server.paths()) == 2


def test_a_plan_read_once_is_remembered_for_a_minute(server, resolver,
                                                     django_assert_num_queries):
    resolver.plan("basic")  # lists the plans into the table
    assert resolver.plan("basic").price == 1000  # read from the table, and remembered
    with django_assert_num_queries(0):
        assert fresh(server, []).plan("basic").price == 1000  # any resolver of this process


def test_a_refresh_replaces_what_the_process_remembers(server, resolver):
    resolver.plan("basic")
    resolver.plan("basic")
    server.plans["basic"]["price"] = "12.00"
    refresh_plans(gateway=fake_gateway(server))
    assert resolver.plan("basic").price == 1200


def test_a_remembered_plan_is_read_again_after_its_time(server, resolver):
    resolver.plan("basic")
    resolver.plan("basic")
    BraintreePlan.objects.filter(plan_id="basic").update(price=1500)  # changed by another process
    assert resolver.plan("basic").price == 1000  # still remembered
    _, refreshed_at, info = cache_module._plan_memo["basic"]
    cache_module._plan_memo["basic"] = (0.0, refreshed_at, info)  # its minute is over
    assert resolver.plan("basic").price == 1500


def test_a_customer_and_a_currency_read_once_are_remembered(server, resolver,
                                                            django_assert_num_queries):
    resolver.customer_for_payment_method("card_token_1")
    resolver.currency_for_merchant_account("eur_account")
    other = fresh(server, [])
    with django_assert_num_queries(0):  # any resolver of this process, no table read
        assert other.customer_for_payment_method("card_token_1").external_id == CUSTOMER.id
        assert other.currency_for_merchant_account("eur_account") == "EUR"


def test_a_remembered_customer_is_read_again_after_its_minute(server, resolver):
    resolver.customer_for_payment_method("card_token_1")
    BraintreePaymentMethodCustomer.objects.update(email="changed@example.com")
    assert resolver.customer_for_payment_method("card_token_1").email != "changed@example.com"
    _, refreshed_at, customer = cache_module._customer_memo["card_token_1"]
    cache_module._customer_memo["card_token_1"] = (0.0, refreshed_at, customer)  # minute over
    assert resolver.customer_for_payment_method("card_token_1").email == "changed@example.com"
