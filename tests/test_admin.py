"""Every model is in the Django admin, and the admin pages render for a superuser."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("app_label", ["billing", "crm"])
def test_every_model_is_registered_and_its_list_page_renders(admin_client, app_label):
    for model in apps.get_app_config(app_label).get_models():
        assert admin.site.is_registered(model), f"{model.__name__} is not in the admin"
        url = reverse(f"admin:{app_label}_{model._meta.model_name}_changelist")
        assert admin_client.get(url).status_code == 200, url


def test_event_log_and_ledger_are_read_only(admin_client):
    from billing.models import SubscriptionChange, WebhookEvent

    for model in (WebhookEvent, SubscriptionChange):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(None)
        assert not model_admin.has_change_permission(None)
        assert not model_admin.has_delete_permission(None)
