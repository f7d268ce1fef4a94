"""Hand-made rows for the selector tests: each test states the figures it relies on."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from billing.models import Customer, ExchangeRate, Subscription, SubscriptionChange
from billing.services import ledger_days

UTC = dt.UTC
_ids = itertools.count(1)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
       second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def customer(name: str = "", *, provider: str = "chargebee", **fields) -> Customer:
    fields.setdefault("company", name)
    return Customer.objects.create(provider=provider,
                                   external_id=fields.pop("external_id", f"cus_{next(_ids)}"),
                                   **fields)


def subscription(owner: Customer, *, mrr: int = 0, currency: str = "USD",
                 status: str = "active", provider: str | None = None, **fields) -> Subscription:
    return Subscription.objects.create(
        provider=provider or owner.provider, customer=owner, mrr=mrr, currency=currency,
        status=status, external_id=fields.pop("external_id", f"sub_{next(_ids)}"), **fields)


def rate(currency: str, value: str, *, since: dt.date = dt.date(2020, 1, 1)) -> ExchangeRate:
    return ExchangeRate.objects.create(currency=currency, rate=Decimal(value), valid_from=since)


def change(sub: Subscription, *, when: dt.datetime, before: str, after: str, mrr_before: int = 0,
           mrr_after: int = 0, movement: str = "none", amount: int = 0,
           currency: str | None = None, event=None) -> SubscriptionChange:
    row = SubscriptionChange.objects.create(
        subscription=sub, customer=sub.customer, occurred_at=when, status_before=before,
        status_after=after, mrr_before=mrr_before, mrr_after=mrr_after,
        currency=currency or sub.currency, movement=movement, movement_amount=amount,
        event=event)
    ledger_days.add_changes([row])  # as the batch writer does with every ledger row
    if movement == "new" and sub.customer.first_paid_at is None:  # and with a first payment
        sub.customer.first_paid_at = when
        sub.customer.save(update_fields=["first_paid_at"])
    return row
