"""The database itself refuses duplicates and impossible values."""

import pytest
from django.db import IntegrityError, transaction

from billing.models import Customer, Subscription, SubscriptionChange, WebhookEvent

pytestmark = pytest.mark.django_db


def make_customer(external_id="cus_1", provider="chargebee"):
    return Customer.objects.create(provider=provider, external_id=external_id)


def make_subscription(customer, external_id="sub_1", **fields):
    values = dict(provider=customer.provider, external_id=external_id, customer=customer,
                  status="active", currency="USD", mrr=100)
    values.update(fields)
    return Subscription.objects.create(**values)


def test_customer_is_unique_per_provider_but_ids_may_repeat_across_providers():
    make_customer()
    make_customer(provider="braintree")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_customer()


def test_subscription_is_unique_per_provider():
    customer = make_customer()
    make_subscription(customer)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_subscription(customer)


def test_webhook_event_is_unique_per_provider_and_event_id():
    WebhookEvent.objects.create(provider="chargebee", event_id="ev_1", body="{}")
    WebhookEvent.objects.create(provider="braintree", event_id="ev_1", body="{}")
    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookEvent.objects.create(provider="chargebee", event_id="ev_1", body="{}")


@pytest.mark.parametrize(
    "fields", [{"mrr": -1}, {"currency": "usd"}, {"currency": "US"}, {"status": "weird"}]
)
def test_subscription_rejects_impossible_values(fields):
    customer = make_customer()
    with pytest.raises(IntegrityError), transaction.atomic():
        make_subscription(customer, **fields)


def test_ledger_rejects_a_movement_without_an_mrr_change():
    customer = make_customer()
    sub = make_subscription(customer)
    common = dict(subscription=sub, customer=customer, occurred_at="2026-01-01T00:00:00Z",
                  status_after="active", currency="USD")
    with pytest.raises(IntegrityError), transaction.atomic():
        SubscriptionChange.objects.create(mrr_before=100, mrr_after=100, movement="expansion",
                                          movement_amount=0, **common)
    with pytest.raises(IntegrityError), transaction.atomic():
        SubscriptionChange.objects.create(mrr_before=100, mrr_after=200, movement="expansion",
                                          movement_amount=-100, **common)
    SubscriptionChange.objects.create(mrr_before=100, mrr_after=200, movement="expansion",
                                      movement_amount=100, **common)
