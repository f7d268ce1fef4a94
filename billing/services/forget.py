"""Erase one customer's personal data from subsync, on request (a GDPR erasure, say).

What is erased here: the customer's name, company and email, the raw provider objects of the
customer and its subscriptions, every stored webhook event that concerns them (bodies carry
names, emails, addresses), the Salesforce call records that name them, and Braintree look-ups
that hold their details. What stays: the customer and subscription rows themselves, with their
ids, plans, amounts and dates, and the MRR ledger, so that the metrics (MRR, churn, NRR) stay
true; none of it says who the customer is beyond the provider's id.

What this cannot erase is listed in the report, for the operator to do: the Salesforce
Account and Contracts (the Account's Name is the customer's company or name), and the
customer at the billing provider itself, which would also send the details again with its
next event about them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast

from billing.models import BraintreePaymentMethodCustomer, Customer, WebhookEvent
from crm import mapping
from crm.models import SyncAttempt

log = logging.getLogger("subsync.audit")


class CustomerNotFound(Exception):
    pass


@dataclass(frozen=True)
class ForgetReport:
    customer: str
    subscriptions: list[str]
    events_deleted: int
    attempts_deleted: int
    lookups_deleted: int
    elsewhere: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"Erased the personal data of customer {self.customer} "
            f"({len(self.subscriptions)} subscription(s)): name, company, email and raw "
            "provider data.",
            f"Deleted {self.events_deleted} webhook event(s), {self.attempts_deleted} "
            f"Salesforce call record(s) and {self.lookups_deleted} Braintree look-up(s) "
            "that concerned them.",
            "Not erased by subsync, to do elsewhere:",
            *(f"  - {item}" for item in self.elsewhere),
        ]


def _quoted(values: list[str]) -> Q:
    """Rows whose text column `text` holds one of `values` as a JSON string."""
    query = Q(pk__in=[])
    for value in values:
        query |= Q(text__contains=f'"{value}"')
    return query


def forget_customer(*, provider: str, external_id: str) -> ForgetReport:
    """Erase the customer's personal data (see the module docstring); one transaction."""
    with transaction.atomic():
        customer = (Customer.objects.select_for_update()
                    .filter(provider=provider, external_id=external_id).first())
        if customer is None:
            raise CustomerNotFound(f"no {provider} customer {external_id!r} here")
        subscriptions = list(customer.subscriptions.values_list("external_id", flat=True))
        ids = [external_id, *subscriptions]

        Customer.objects.filter(pk=customer.pk).update(email="", company="", first_name="",
                                                       last_name="", raw={})
        customer.subscriptions.update(raw={})

        # Events: by the ledger's link (any provider's body format), and Chargebee's JSON bodies
        # and reconcile records that name the customer or a subscription.
        linked = set(customer.changes.exclude(event=None).values_list("event_id", flat=True))
        named = set(WebhookEvent.objects.filter(provider=provider)
                    .annotate(text=Cast("body", TextField())).filter(_quoted(ids))
                    .values_list("pk", flat=True))
        events_deleted, _ = WebhookEvent.objects.filter(pk__in=linked | named).delete()

        refs = [mapping.external_id(provider, value) for value in ids]
        attempts = (SyncAttempt.objects.annotate(text=Cast("records", TextField()))
                    .filter(_quoted(refs)).only("pk", "records"))
        mine = [a.pk for a in attempts if set(map(str, a.records or [])) & set(refs)]
        attempts_deleted, _ = SyncAttempt.objects.filter(pk__in=mine).delete()

        lookups_deleted = 0
        if provider == "braintree":
            lookups_deleted, _ = BraintreePaymentMethodCustomer.objects.filter(
                customer_id=external_id).delete()

    account = mapping.external_id(provider, external_id)
    report = ForgetReport(
        customer=account, subscriptions=subscriptions, events_deleted=events_deleted,
        attempts_deleted=attempts_deleted, lookups_deleted=lookups_deleted,
        elsewhere=[
            f"Salesforce: the Account with Subsync_Customer_Id__c = {account} (its Name is "
            "the customer's company or name) and its Contracts"
            + (f" (Subsync_Subscription_Id__c {', '.join(refs[1:])})" if subscriptions else "")
            + ": delete or anonymise them in Salesforce.",
            f"{provider.capitalize()}: the customer {external_id} and their payment details: "
            "erase them in the provider's own tools; until then its next event about them "
            "stores their details here again.",
            "Backups of this database taken before now still hold the erased data.",
        ],
    )
    log.info("customer forgotten", extra={"customer": account,
                                          "events_deleted": events_deleted,
                                          "attempts_deleted": attempts_deleted})
    return report
