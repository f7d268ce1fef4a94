from django.urls import path

from billing.webhooks.chargebee import chargebee_webhook

urlpatterns = [
    path("webhooks/chargebee/", chargebee_webhook, name="chargebee-webhook"),
]
