from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        # Plug each provider module into the event pipeline and the backfill command.
        from django.core import checks

        from billing import backfill
        from billing.backfill import braintree as braintree_backfill
        from billing.backfill import chargebee as chargebee_backfill
        from billing.checks import (
            verify_events_needs_the_api,
            webhook_password_length,
            webhook_settings,
        )
        from billing.providers.base import register
        from billing.providers.braintree.adapter import BraintreeAdapter
        from billing.providers.chargebee.adapter import ChargebeeAdapter

        register(ChargebeeAdapter())
        register(BraintreeAdapter())
        backfill.register("chargebee", chargebee_backfill.run)
        backfill.register("braintree", braintree_backfill.run)
        checks.register(webhook_settings, "subsync")
        checks.register(webhook_password_length, "subsync")
        checks.register(verify_events_needs_the_api, "subsync")
