"""Migration 0014: payloads stored before minimisation lose their card and address data."""

from importlib import import_module

import pytest
from django.apps import apps

from billing.models import Customer, Subscription

pytestmark = pytest.mark.django_db
scrub = import_module("billing.migrations.0014_minimise_stored_payloads").minimise_stored_payloads


def test_old_payloads_keep_only_what_the_product_uses():
    chargebee = Customer.objects.create(
        provider="chargebee", external_id="c1", email="a@example.com",
        raw={"id": "c1", "email": "a@example.com", "phone": "+44 20 7946 0000",
             "billing_address": {"line1": "1 High Street", "city": "London"},
             "card": {"last4": "4242", "first_name": "Ann"}})
    braintree = Customer.objects.create(provider="braintree", external_id="b1",
                                        raw={"credit_cards": [{"bin": "411111"}]})
    subscription = Subscription.objects.create(
        provider="braintree", external_id="s1", customer=braintree, status="active",
        currency="USD", raw={"id": "s1", "status": "Active", "plan_id": "pro",
                             "transactions": [{"credit_card": {"last_4": "1111"},
                                               "billing": {"street_address": "1 Main St"}}]})
    scrub(apps, None)
    chargebee.refresh_from_db()
    braintree.refresh_from_db()
    subscription.refresh_from_db()
    assert "phone" not in chargebee.raw
    assert "billing_address" not in chargebee.raw
    assert "card" not in chargebee.raw
    assert chargebee.raw.get("id") == "c1"
    assert braintree.raw == {}
    assert "transactions" not in subscription.raw
    assert subscription.raw["plan_id"] == "pro"
    assert subscription.raw["status"] == "Active"


def test_running_it_twice_changes_nothing_more():
    row = Subscription.objects.create(
        provider="chargebee", external_id="s2", status="active", currency="USD",
        customer=Customer.objects.create(provider="chargebee", external_id="c2"),
        raw={"id": "s2", "plan_id": "pro", "shipping_address": {"line1": "x"}})
    scrub(apps, None)
    row.refresh_from_db()
    once = dict(row.raw)
    scrub(apps, None)
    row.refresh_from_db()
    assert row.raw == once
    assert "shipping_address" not in once
