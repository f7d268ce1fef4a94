from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        # Register the provider modules with the event pipeline.
        from billing.providers.base import register
        from billing.providers.chargebee.adapter import ChargebeeAdapter

        register(ChargebeeAdapter())

        from billing import backfill
        from billing.backfill import braintree as braintree_backfill
        from billing.providers.braintree.adapter import BraintreeAdapter

        register(BraintreeAdapter())
        backfill.register("braintree", braintree_backfill.run)
        import billing.backfill.chargebee  # noqa: F401  (registers the "chargebee" backfill)
