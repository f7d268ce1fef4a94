"""Billing rows for Salesforce tests, written straight to the database (no provider involved)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from billing.models import Customer, Subscription
from crm.models import ContractSync
from crm.services.sync_state import note_subscription_changed

START = datetime(2026, 1, 1, tzinfo=UTC)


def customer(external_id: str = "cus_1", *, provider: str = "chargebee", **fields) -> Customer:
    fields.setdefault("email", f"{external_id}@example.com")
    found, _ = Customer.objects.update_or_create(
        provider=provider, external_id=external_id, defaults=fields
    )
    return found


def subscription(
    external_id: str = "sub_1", *, customer_id: str = "cus_1", provider: str = "chargebee",
    status: str = "active", mrr: int = 5000, currency: str = "USD", **fields,
) -> Subscription:
    owner = fields.pop("customer", None) or customer(customer_id, provider=provider)
    values = {
        "customer": owner, "status": status, "mrr": mrr, "currency": currency,
        "plan_id": "pro-monthly", "started_at": START, "current_term_start": START,
        "current_term_end": START + timedelta(days=365), "next_renewal_at":
        START + timedelta(days=365),
    }
    values.update(fields)
    sub, _ = Subscription.objects.update_or_create(
        provider=provider, external_id=external_id, defaults=values
    )
    return sub


def changed(sub: Subscription, **fields) -> Subscription:
    """Apply a billing change the way billing services do: save, then bump the sync flag."""
    for name, value in fields.items():
        setattr(sub, name, value)
    sub.save()
    note_subscription_changed(subscription=sub)
    return sub


def synced_subscription(external_id: str = "sub_1", **fields) -> Subscription:
    sub = subscription(external_id, **fields)
    note_subscription_changed(subscription=sub)
    return sub


def many(count: int, *, per_customer: int = 1, prefix: str = "bulk") -> list[int]:
    """`count` in-scope subscriptions with dirty sync rows, in a few bulk inserts."""
    customers = Customer.objects.bulk_create(
        [Customer(provider="chargebee", external_id=f"{prefix}_cus_{i}",
                  company=f"Company {i}") for i in range(-(-count // per_customer))]
    )
    subs = Subscription.objects.bulk_create(
        [Subscription(provider="chargebee", external_id=f"{prefix}_sub_{i}",
                      customer=customers[i // per_customer], status="active", mrr=1000 + i,
                      currency="USD", plan_id="basic", started_at=START,
                      current_term_end=START + timedelta(days=30)) for i in range(count)]
    )
    now = timezone.now()
    rows = ContractSync.objects.bulk_create(
        [ContractSync(subscription=sub, version=1, next_attempt_at=now) for sub in subs]
    )
    return [row.pk for row in rows]


def sync_of(sub: Subscription) -> ContractSync:
    return ContractSync.objects.get(subscription=sub)


def make_due(*rows: ContractSync) -> None:
    """Pretend the backoff elapsed (time travel without sleeping)."""
    ids = [row.pk for row in rows] or list(ContractSync.objects.values_list("pk", flat=True))
    ContractSync.objects.filter(pk__in=ids, next_attempt_at__isnull=False).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
