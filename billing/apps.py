from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        # Register the provider modules with the event pipeline.
        from billing.providers.base import register
        from billing.providers.chargebee.adapter import ChargebeeAdapter

        register(ChargebeeAdapter())
