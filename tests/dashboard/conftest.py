"""Users of the dashboard: anonymous, a non-staff account, read-only staff, an operator."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission

from billing.models import Customer, Subscription, WebhookEvent
from crm.models import ContractSync

PASSWORD = "a-long-test-password-1"


def _user(django_user_model, username: str, *, staff: bool, perms: tuple[str, ...] = ()):
    user = django_user_model.objects.create_user(username, f"{username}@example.com", PASSWORD,
                                                 is_staff=staff)
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app,
                                                         codename=codename))
    return user


@pytest.fixture
def outsider(django_user_model):
    """Logged in, but not staff."""
    return _user(django_user_model, "outsider", staff=False)


@pytest.fixture
def viewer(django_user_model):
    """Staff without any model permission: may look, may not act."""
    return _user(django_user_model, "viewer", staff=True)


@pytest.fixture
def operator(django_user_model):
    """Staff who may replay events and push, retry and park syncs."""
    return _user(django_user_model, "operator", staff=True,
                 perms=("billing.change_webhookevent", "crm.change_contractsync"))


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client

    return as_user


@pytest.fixture
def subscription(db):
    customer = Customer.objects.create(provider="chargebee", external_id="cus_1",
                                       company="Acme Ltd", email="ops@acme.test")
    now = dt.datetime.now(dt.UTC)
    return Subscription.objects.create(
        provider="chargebee", external_id="sub_1", customer=customer, status="active",
        plan_id="pro-monthly", currency="USD", mrr=12_000, current_term_start=now,
        current_term_end=now + dt.timedelta(days=20), next_renewal_at=now + dt.timedelta(days=20))


@pytest.fixture
def failed_sync(subscription):
    return ContractSync.objects.create(subscription=subscription, state=ContractSync.State.FAILED,
                                       version=2, synced_version=1, attempts=6,
                                       last_error_code="FIELD_CUSTOM_VALIDATION_EXCEPTION",
                                       last_error="Contracts need a region")


@pytest.fixture
def failed_event(db):
    return WebhookEvent.objects.create(
        provider="chargebee", event_id="ev_failed_1", event_type="subscription_changed",
        body='{"id": "ev_failed_1"}', status=WebhookEvent.State.FAILED, attempts=8,
        error="boom")
