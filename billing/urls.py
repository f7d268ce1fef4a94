from django.urls import path

from billing.webhooks.braintree import braintree_webhook
from billing.webhooks.chargebee import chargebee_webhook

urlpatterns = [
    path("webhooks/chargebee/", chargebee_webhook, name="chargebee-webhook"),
    path("webhooks/braintree/", braintree_webhook, name="braintree-webhook"),
]
