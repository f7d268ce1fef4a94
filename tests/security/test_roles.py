"""The ops roles (groups made by a migration) and the read-only admin of synced billing data."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from billing.models import Customer, Subscription

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password-1"


@pytest.fixture
def customer():
    customer = Customer.objects.create(provider="chargebee", external_id="cus_1",
                                       company="Acme Ltd", email="ops@acme.test",
                                       raw={"id": "cus_1", "company": "Acme Ltd"})
    Subscription.objects.create(provider="chargebee", external_id="sub_1", customer=customer,
                                status="active", plan_id="pro", currency="USD", mrr=1000)
    return customer


def _member(django_user_model, group_name: str):
    user = django_user_model.objects.create_user(group_name.split()[-1].strip("()"),
                                                 password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group_name))
    return user


def test_the_migration_creates_both_groups_with_their_permissions():
    read_only = {f"{p.content_type.app_label}.{p.codename}"
                 for p in Group.objects.get(name="Ops (read-only)").permissions.all()}
    operator = {f"{p.content_type.app_label}.{p.codename}"
                for p in Group.objects.get(name="Ops operator").permissions.all()}
    assert {"billing.view_customer", "billing.view_subscription", "billing.view_webhookevent",
            "crm.view_contractsync"} <= read_only
    assert all(name.split(".")[1].startswith("view_") for name in read_only)
    assert operator - read_only == {"billing.change_webhookevent", "crm.change_contractsync"}


def test_read_only_staff_see_pages_but_may_not_act(client, django_user_model, customer):
    client.force_login(_member(django_user_model, "Ops (read-only)"))
    assert client.get("/").status_code == 200
    assert client.get("/admin/billing/customer/").status_code == 200
    sync_id = 1
    assert client.post(f"/sync/{sync_id}/retry/").status_code == 403
    subscription = Subscription.objects.get()
    assert client.post(f"/subscriptions/{subscription.pk}/push/").status_code == 403


def test_operators_may_act(client, django_user_model, customer):
    user = _member(django_user_model, "Ops operator")
    assert user.has_perm("billing.change_webhookevent")
    assert user.has_perm("crm.change_contractsync")
    assert not user.has_perm("billing.change_customer")
    client.force_login(user)
    subscription = Subscription.objects.get()
    assert client.post(f"/subscriptions/{subscription.pk}/push/").status_code == 302


def test_synced_billing_data_is_read_only_in_the_admin_even_for_superusers(admin_client,
                                                                         customer):
    subscription = Subscription.objects.get()
    for url in (f"/admin/billing/customer/{customer.pk}/change/",
                f"/admin/billing/subscription/{subscription.pk}/change/"):
        page = admin_client.get(url)
        assert page.status_code == 200
        assert b'name="_save"' not in page.content  # a view, not a form
    # The raw payload is shown.
    assert b"Acme Ltd" in admin_client.get(f"/admin/billing/customer/{customer.pk}/change/") \
        .content
    assert admin_client.get("/admin/billing/customer/add/").status_code == 403
    admin_client.post(f"/admin/billing/customer/{customer.pk}/change/",
                      {"company": "Changed", "email": "x@y.z"})
    customer.refresh_from_db()
    assert customer.company == "Acme Ltd"


def test_the_emulator_banner_is_on_every_dashboard_page(admin_client, settings, customer):
    settings.SUBSYNC_SALESFORCE_EMULATOR = True
    subscription = Subscription.objects.get()
    for path in ("/", "/renewals/", "/churn/", "/subscriptions/",
                 f"/subscriptions/{subscription.pk}/", "/sync/", "/events/", "/definitions/"):
        page = admin_client.get(path)
        assert page.status_code == 200, path
        assert b"Salesforce: built-in emulator" in page.content, path
