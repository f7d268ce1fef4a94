"""The SDK gateway against a fake Braintree over real HTTP: plans, backfill search with resume,
lookups through ApiResolver with caching, and error classification."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from billing.normalized import Status
from billing.providers.braintree.api import (
    BraintreeApiError,
    PlanInfo,
    find_subscription,
    iter_subscriptions,
    list_plans,
)
from billing.providers.braintree.parse import normalize_notification, verify_and_parse
from billing.providers.braintree.resolver import ApiResolver, Resolver
from emulator.braintree.notifications import signed_subscription_notification
from emulator.braintree.server import FakeBraintreeServer
from emulator.braintree.subscriptions import Customer, Keys, subscription_fields
from tests.support.braintree_app import fake_gateway

from .conftest import T0

STATUSES = ["Active", "Past Due", "Pending", "Canceled", "Expired"]


@pytest.fixture
def server(keys):
    with FakeBraintreeServer(keys=keys) as fake:
        fake.add_plan("basic", price="10.00", currency="USD")
        fake.add_plan("annual", price="100.00", billing_frequency=12, currency="EUR",
                      name="Annual")
        fake.add_merchant_account("eur_account", currency="EUR")
        fake.add_merchant_account("usd_account", currency="USD")
        fake.add_customer(Customer("cust_7", email="bo@example.com", company="Bo Ltd",
                                   first_name="Bo", last_name="Berg"))
        fake.add_payment_method("card_token_1", customer_id="cust_7")
        yield fake


@pytest.fixture
def api(server):
    return fake_gateway(server)


def add_subscriptions(server, count, *, seed=7):
    ids = [f"sub_{n:04d}" for n in range(count)]
    random.Random(seed).shuffle(ids)  # the fake answers in insertion order: not sorted
    for n, sub_id in enumerate(ids):
        server.add_subscription(subscription_fields(
            subscription_id=sub_id, status=STATUSES[n % len(STATUSES)], plan_id="basic",
            price="10.00", timestamp=T0 - timedelta(days=n)))
    return sorted(ids)


# -- plans ------------------------------------------------------------------------------------


def test_list_plans(api, server):
    plans = list_plans(api)
    assert plans == [
        PlanInfo(plan_id="basic", billing_frequency=1, price=1000, currency="USD",
                 name="basic"),
        PlanInfo(plan_id="annual", billing_frequency=12, price=10000, currency="EUR",
                 name="Annual"),
    ]
    assert server.paths() == ["/merchants/subsync_merchant/plans/"]


def test_wrong_keys_are_a_permanent_authentication_error(server):
    gateway = fake_gateway(server, private_key="wrong")
    with pytest.raises(BraintreeApiError) as caught:
        list_plans(gateway)
    assert caught.value.permanent
    assert caught.value.status == 401
    assert [r.status for r in server.requests] == [401]


# -- backfill search ----------------------------------------------------------------------------


def test_iterates_every_subscription_in_pages_of_50(api, server):
    expected = add_subscriptions(server, 120)
    seen = [sub.id for sub in iter_subscriptions(api)]
    assert seen == expected  # all statuses, each once, in id order
    posts = [r for r in server.requests if r.method == "POST"]
    search_paths = [r.path.rsplit("/", 1)[-1] for r in posts]
    # One search for every id, then per page: the SDK's id search and the object fetch.
    assert search_paths == ["advanced_search_ids"] + ["advanced_search_ids",
                                                      "advanced_search"] * 3
    assert set(posts[0].search_values("status")) == set(STATUSES)
    fetched = [r.search_values("ids") for r in posts if r.path.endswith("advanced_search")]
    assert [len(page) for page in fetched] == [50, 50, 20]
    # Each page is a contiguous run of sorted ids (Braintree's order inside it is its own).
    assert [sorted(page) for page in fetched] == [expected[:50], expected[50:100],
                                                  expected[100:]]


def test_resume_after_an_interruption(api, server):
    expected = add_subscriptions(server, 120)
    seen = []
    # search all + page 1 (2 requests) + page 2's id search, then 503 for page 2's objects.
    server.fail_after(4, status=503)
    with pytest.raises(BraintreeApiError) as caught:
        for sub in iter_subscriptions(api):
            seen.append(sub.id)
    assert caught.value.transient
    assert caught.value.status == 503
    assert seen == expected[:50]
    checkpoint = seen[-1]

    server.recover()
    server.clear_log()
    rest = [sub.id for sub in iter_subscriptions(api, after=checkpoint)]
    assert rest == expected[50:]
    assert seen + rest == expected
    fetched = [len(r.search_values("ids")) for r in server.requests
               if r.path.endswith("advanced_search")]
    assert fetched == [50, 20]


def test_resume_mid_page_from_any_checkpoint(api, server):
    expected = add_subscriptions(server, 60)
    assert [s.id for s in iter_subscriptions(api, after=expected[9])] == expected[10:]
    assert list(iter_subscriptions(api, after=expected[-1])) == []


def test_search_is_rate_limited(api, server):
    add_subscriptions(server, 3)
    server.fail_next(1, status=429)
    with pytest.raises(BraintreeApiError) as caught:
        list(iter_subscriptions(api))
    assert caught.value.transient and caught.value.status == 429
    assert [s.id for s in iter_subscriptions(api)] == sorted(server.subscriptions)


def test_find_subscription(api, server):
    add_subscriptions(server, 2)
    assert find_subscription(api, subscription_id="sub_0001").id == "sub_0001"
    with pytest.raises(BraintreeApiError) as caught:
        find_subscription(api, subscription_id="missing")
    assert caught.value.permanent and caught.value.status == 404


# -- ApiResolver ---------------------------------------------------------------------------------


def test_api_resolver_is_a_resolver(api):
    assert isinstance(ApiResolver(api), Resolver)


def test_merchant_account_currency_is_looked_up_once(api, server):
    resolver = ApiResolver(api)
    assert resolver.currency_for_merchant_account("eur_account") == "EUR"
    assert resolver.currency_for_merchant_account("eur_account") == "EUR"
    assert server.paths() == ["/merchants/subsync_merchant/merchant_accounts/eur_account"]


def test_payment_method_customer_is_looked_up_once(api, server):
    resolver = ApiResolver(api)
    customer = resolver.customer_for_payment_method("card_token_1")
    assert (customer.external_id, customer.email, customer.company, customer.first_name,
            customer.last_name) == ("cust_7", "bo@example.com", "Bo Ltd", "Bo", "Berg")
    assert resolver.customer_for_payment_method("card_token_1") == customer
    assert server.paths() == [
        "/merchants/subsync_merchant/payment_methods/any/card_token_1",
        "/merchants/subsync_merchant/customers/cust_7",
    ]


def test_plans_are_loaded_once_and_reloaded_once_for_an_unknown_id(api, server):
    resolver = ApiResolver(api)
    assert resolver.plan("basic").price == 1000
    assert resolver.plan("annual").billing_frequency == 12
    assert len(server.requests) == 1
    assert resolver.plan("gone") is None
    assert resolver.plan("gone") is None
    assert len(server.requests) == 2  # one reload for the unknown id, not one per question


def test_cache_expires(api, server):
    now = [0.0]
    resolver = ApiResolver(api, ttl_seconds=60, clock=lambda: now[0])
    resolver.currency_for_merchant_account("usd_account")
    now[0] = 59
    resolver.currency_for_merchant_account("usd_account")
    now[0] = 61
    resolver.currency_for_merchant_account("usd_account")
    assert len(server.requests) == 2


def test_resolver_errors_are_typed_and_not_cached(api, server):
    resolver = ApiResolver(api)
    server.fail_next(1, status=503)
    with pytest.raises(BraintreeApiError) as caught:
        resolver.currency_for_merchant_account("eur_account")
    assert caught.value.transient and caught.value.status == 503
    assert "eur_account" in str(caught.value)
    assert resolver.currency_for_merchant_account("eur_account") == "EUR"
    with pytest.raises(BraintreeApiError) as caught:
        resolver.customer_for_payment_method("no_such_token")
    assert caught.value.permanent and caught.value.status == 404


def test_resolver_subscription_lookup(api, server):
    add_subscriptions(server, 1)
    resolver = ApiResolver(api)
    assert resolver.subscription("sub_0000").status == "Active"
    assert resolver.subscription("unknown") is None


def test_unreachable_gateway_is_transient(keys):
    with FakeBraintreeServer(keys=keys) as fake:
        gateway = fake_gateway(fake, timeout=2.0)
    with pytest.raises(BraintreeApiError) as caught:  # the server is gone now
        list_plans(gateway)
    assert caught.value.transient


# -- end to end: a notification without transactions, resolved over HTTP ------------------------


def test_notification_normalised_through_the_api(api, server, keys):
    form = signed_subscription_notification(
        "subscription_charged_successfully", keys=keys, subscription_id="sub_9",
        status="Active", plan_id="annual", price="240.00", billing_frequency=12,
        timestamp=T0, merchant_account_id="eur_account", payment_method_token="card_token_1")
    notification = verify_and_parse(api, signature=form["bt_signature"],
                                    payload=form["bt_payload"])
    resolver = ApiResolver(api)

    (sub,) = normalize_notification(notification, resolver=resolver).subscriptions
    assert (sub.status, sub.currency, sub.mrr, sub.billing_period) == (
        Status.ACTIVE, "EUR", 2000, 12)
    assert sub.customer.external_id == "cust_7"
    requests = len(server.requests)
    assert requests == 4  # plans, merchant account, payment method, customer

    normalize_notification(notification, resolver=resolver)  # a redelivery: all cached
    assert len(server.requests) == requests


def test_keys_fixture_matches_server(keys):
    assert keys == Keys()
