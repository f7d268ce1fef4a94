"""`forget_customer`: a customer's personal data erased here, the figures kept, and what is
left elsewhere said."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from billing.models import (
    BraintreePaymentMethodCustomer,
    Customer,
    Subscription,
    SubscriptionChange,
    WebhookEvent,
)
from crm.models import SyncAttempt

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _customer(external_id: str, *, provider: str = "chargebee") -> Customer:
    customer = Customer.objects.create(provider=provider, external_id=external_id,
                                       email=f"{external_id}@acme.test", company="Acme Ltd",
                                       first_name="Ada", last_name="Lovelace",
                                       raw={"id": external_id, "email": "ada@acme.test"})
    subscription = Subscription.objects.create(
        provider=provider, external_id=f"sub_{external_id}", customer=customer,
        status="active", plan_id="pro", currency="USD", mrr=4900, raw={"id": "x"})
    event = WebhookEvent.objects.create(
        provider=provider, event_id=f"ev_{external_id}", event_type="subscription_created",
        body=json.dumps({"content": {"customer": {"id": external_id,
                                                  "email": "ada@acme.test"}}}))
    SubscriptionChange.objects.create(subscription=subscription, customer=customer, event=event,
                                      occurred_at=NOW, status_after="active",
                                      mrr_before=0, mrr_after=4900, currency="USD",
                                      movement="new", movement_amount=4900)
    SyncAttempt.objects.create(operation="upsert", sobject="Account",
                               records=[f"{provider}:{external_id}"])
    return customer


def test_personal_data_is_erased_and_the_figures_kept():
    customer = _customer("cus_1")
    other = _customer("cus_10")  # an id that starts like the first: untouched
    out = StringIO()
    call_command("forget_customer", "chargebee", "cus_1", stdout=out)

    customer.refresh_from_db()
    assert (customer.email, customer.company, customer.first_name, customer.last_name,
            customer.raw) == ("", "", "", "", {})
    subscription = Subscription.objects.get(external_id="sub_cus_1")
    assert subscription.raw == {} and subscription.mrr == 4900
    change = SubscriptionChange.objects.get(customer=customer)
    assert change.mrr_after == 4900 and change.event is None
    assert set(WebhookEvent.objects.values_list("event_id", flat=True)) == {"ev_cus_10"}
    assert list(SyncAttempt.objects.values_list("records", flat=True)) == [["chargebee:cus_10"]]
    other.refresh_from_db()
    assert other.email == "cus_10@acme.test"

    text = out.getvalue()
    assert "Erased the personal data of customer chargebee:cus_1" in text
    assert "Deleted 1 webhook event(s), 1 Salesforce call record(s)" in text
    assert "Subsync_Customer_Id__c = chargebee:cus_1" in text
    assert "chargebee:sub_cus_1" in text
    assert "Chargebee: the customer cus_1" in text


def test_braintree_look_ups_of_the_customer_are_deleted():
    _customer("bt_1", provider="braintree")
    BraintreePaymentMethodCustomer.objects.create(token="tok", customer_id="bt_1",
                                                  email="a@b.test", refreshed_at=NOW)
    BraintreePaymentMethodCustomer.objects.create(token="tok2", customer_id="bt_2",
                                                  email="c@d.test", refreshed_at=NOW)
    call_command("forget_customer", "braintree", "bt_1", stdout=StringIO())
    assert list(BraintreePaymentMethodCustomer.objects.values_list("token", flat=True)) == \
        ["tok2"]


def test_an_unknown_customer_is_an_error():
    with pytest.raises(CommandError, match="no chargebee customer 'nobody'"):
        call_command("forget_customer", "chargebee", "nobody")


def test_the_admin_action_forgets_the_ticked_customers(admin_client):
    customer = _customer("cus_admin")
    response = admin_client.post("/admin/billing/customer/", {
        "action": "forget_selected", "_selected_action": [customer.pk]}, follow=True)
    assert response.status_code == 200
    assert b"Erased the personal data of customer chargebee:cus_admin" in response.content
    customer.refresh_from_db()
    assert customer.email == ""


def test_the_admin_action_needs_the_delete_permission(client, django_user_model):
    customer = _customer("cus_kept")
    user = django_user_model.objects.create_user("viewer", password="x-long-password-1",
                                                 is_staff=True)
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(user)
    client.post("/admin/billing/customer/", {"action": "forget_selected",
                                             "_selected_action": [customer.pk]})
    customer.refresh_from_db()
    assert customer.email == "cus_kept@acme.test"
