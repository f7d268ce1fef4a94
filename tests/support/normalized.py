"""Builders of provider-neutral shapes for service tests (no provider payloads involved)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from billing.normalized import (
    NormalizedCustomer,
    NormalizedItem,
    NormalizedSubscription,
    Provider,
    Status,
)


def customer(external_id: str = "cus_1", *, provider: Provider = Provider.CHARGEBEE,
             version: int | None = 1, **fields) -> NormalizedCustomer:
    return NormalizedCustomer(provider=provider, external_id=external_id,
                              email=fields.pop("email", f"{external_id}@example.com"),
                              source_version=version, **fields)


def subscription(external_id: str = "sub_1", *, customer_id: str = "cus_1",
                 status: Status = Status.ACTIVE, mrr: int = 5000, version: int | None = 1,
                 currency: str = "USD", provider: Provider = Provider.CHARGEBEE,
                 **fields) -> NormalizedSubscription:
    return NormalizedSubscription(
        provider=provider, external_id=external_id,
        customer=customer(customer_id, provider=provider, version=version),
        status=status, provider_status=str(status), currency=currency, mrr=mrr,
        source_version=version, plan_id=fields.pop("plan_id", "pro-monthly"),
        items=fields.pop("items", (NormalizedItem(kind="plan", item_id="pro", amount=mrr),)),
        current_term_end=fields.pop("current_term_end", datetime(2027, 1, 1, tzinfo=UTC)),
        **fields,
    )


def newer(sub: NormalizedSubscription, *, by: int = 1, **changes) -> NormalizedSubscription:
    version = (sub.source_version or 0) + by
    return replace(sub, source_version=version,
                   customer=replace(sub.customer, source_version=version), **changes)
