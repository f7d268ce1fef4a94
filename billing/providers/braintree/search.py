"""Subscription searches for the missed-notification recovery: by creation time and by id.

Braintree's subscription search has no `updated_at` criterion (SDK 4.x SubscriptionSearch:
created_at, ids, status, next_billing_date, days_past_due, ...), so "what changed lately"
cannot be asked directly. The recovery asks two narrower questions instead: which
subscriptions were created since a moment (ones we may never have heard of), and what do the
subscriptions we hold look like now (fetched by id, a page at a time).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

import braintree
from braintree import SubscriptionSearch

from .api import ALL_STATUSES, PAGE_SIZE, calling_braintree


def ids_created_since(gateway: braintree.BraintreeGateway, *, since: datetime) -> list[str]:
    """Ids of the subscriptions (in every status) created at or after `since`, sorted."""
    with calling_braintree("searching subscriptions created since "
                           f"{since.isoformat()}"):
        found = gateway.subscription.search([
            SubscriptionSearch.status.in_list(list(ALL_STATUSES)),
            SubscriptionSearch.created_at >= since,
        ])
        return sorted(found.ids)


def fetch_by_ids(gateway: braintree.BraintreeGateway, ids: Sequence[str], *,
                 page_size: int = PAGE_SIZE
                 ) -> Iterator[tuple[list[str], list[braintree.Subscription]]]:
    """The subscriptions of `ids`, as (page of ids, subscriptions found) per `page_size` ids.

    Two requests a page, as the SDK searches: the ids that match, then their objects. Ids
    Braintree does not know are simply missing from their page.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    for start in range(0, len(ids), page_size):
        page = list(ids[start:start + page_size])
        with calling_braintree(f"fetching subscriptions {page[0]}..{page[-1]}"):
            found = gateway.subscription.search([
                SubscriptionSearch.status.in_list(list(ALL_STATUSES)),
                SubscriptionSearch.ids.in_list(page),
            ])
            subscriptions = list(found.items)
        yield page, subscriptions
