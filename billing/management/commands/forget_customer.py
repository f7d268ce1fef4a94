"""`manage.py forget_customer PROVIDER CUSTOMER_ID`: erase a customer's personal data here
(billing.services.forget) and say what has to be erased elsewhere."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from billing.services.forget import CustomerNotFound, forget_customer


class Command(BaseCommand):
    help = ("Erase a customer's personal data from subsync (name, company, email, raw provider "
            "data, webhook events, Salesforce call records) and list what to erase elsewhere.")

    def add_arguments(self, parser):
        parser.add_argument("provider", choices=["chargebee", "braintree"])
        parser.add_argument("customer_id", help="the provider's customer id, e.g. AzZlGkSjvX1")

    def handle(self, *args, provider: str, customer_id: str, **options):
        try:
            report = forget_customer(provider=provider, external_id=customer_id)
        except CustomerNotFound as exc:
            raise CommandError(str(exc)) from None
        for line in report.lines():
            self.stdout.write(line)
