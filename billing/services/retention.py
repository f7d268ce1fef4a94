"""Forget webhook events that are done and old.

Why: every delivery is stored with its raw body, and bodies carry customers' personal data
(names, emails, addresses). Keeping them for ever is a liability, and a table that only grows
makes every claim, vacuum and backup slower. What an event changed stays: subscriptions,
customers and the SubscriptionChange ledger (whose `event` link becomes empty).

Events whose work is finished are pruned: processed, ignored and stale. Failed and rejected
ones wait for an operator (replay_events), and are pruned only after one has opened them
(seen_at) and a longer retention (prune_seen_failures); received or processing ones wait for
the worker, however old. Braintree look-ups are pruned here too (prune_braintree_cache).
The retention has a floor, MIN_RETENTION_DAYS, longer than any provider retries a delivery
(Chargebee: about 3 days) and than the event poll looks back (72 hours): within it, a stored
event is what tells a redelivery from a new event.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from billing.models import (
    BraintreeMerchantAccount,
    BraintreePaymentMethodCustomer,
    BraintreePlan,
    WebhookEvent,
)

State = WebhookEvent.State
PRUNABLE = (State.PROCESSED, State.IGNORED, State.STALE)
MIN_RETENTION_DAYS = 7


@dataclass(frozen=True)
class PruneResult:
    deleted: int
    cutoff: datetime
    complete: bool  # False when the time budget ran out with more to delete

    def as_dict(self) -> dict:
        return {"deleted": self.deleted, "cutoff": self.cutoff.isoformat(),
                "complete": self.complete}


def retention_cutoff(*, days: int, now: datetime | None = None) -> datetime:
    """Events received before this are old enough to prune; refuses a retention below the floor.
    """
    if days < MIN_RETENTION_DAYS:
        raise ValueError(f"a retention of {days} days is below the minimum of "
                         f"{MIN_RETENTION_DAYS}: redeliveries could no longer be told apart")
    return (now or timezone.now()) - timedelta(days=days)


def prunable_events(*, cutoff: datetime):
    return WebhookEvent.objects.filter(status__in=PRUNABLE, received_at__lt=cutoff)


def prune_events(*, cutoff: datetime, chunk_size: int = 1000,
                 max_seconds: float | None = None) -> PruneResult:
    """Delete done events received before `cutoff`, oldest first, `chunk_size` per transaction.

    Each chunk is its own short transaction, so the worker and the webhooks are never held up
    for long; with `max_seconds` it stops between chunks once the budget is spent (the next
    run goes on). Ledger rows that name a deleted event keep everything but that link.
    """
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    deleted = 0
    while True:
        with transaction.atomic():
            pks = list(prunable_events(cutoff=cutoff).order_by("pk")
                       .select_for_update(skip_locked=True)
                       .values_list("pk", flat=True)[:chunk_size])
            if not pks:
                return PruneResult(deleted=deleted, cutoff=cutoff, complete=True)
            # Django empties the ledger's link (on_delete=SET_NULL) in the same transaction;
            # only("pk"): the bodies are not loaded to be deleted.
            _, per_model = WebhookEvent.objects.filter(pk__in=pks).only("pk").delete()
            deleted += per_model.get(WebhookEvent._meta.label, 0)
        if deadline is not None and time.monotonic() >= deadline:
            more = prunable_events(cutoff=cutoff).exists()
            return PruneResult(deleted=deleted, cutoff=cutoff, complete=not more)


# -- failed and rejected events, once an operator has seen them --------------------------------

WAITING_FOR_AN_OPERATOR = (State.FAILED, State.REJECTED)


def mark_seen(*, event_ids: list[int], now: datetime | None = None) -> int:
    """Record that an operator opened these events (the first time only)."""
    return (WebhookEvent.objects.filter(pk__in=event_ids, seen_at__isnull=True)
            .update(seen_at=now or timezone.now()))


def prune_seen_failures(*, cutoff: datetime) -> int:
    """Delete failed and rejected events received before `cutoff` that an operator has seen.

    Unseen ones stay, however old: nobody has looked at what went wrong yet. Their bodies carry
    the same personal data as any delivery, so once seen they do not stay for ever either.
    """
    stale = WebhookEvent.objects.filter(status__in=WAITING_FOR_AN_OPERATOR,
                                        seen_at__isnull=False, received_at__lt=cutoff)
    _, per_model = stale.only("pk").delete()
    return per_model.get(WebhookEvent._meta.label, 0)


# -- Braintree look-up caches ---------------------------------------------------------------------


def prune_braintree_cache(*, cutoff: datetime) -> int:
    """Forget look-ups not refreshed since `cutoff`; the next event that needs one asks again.

    The payment-method rows hold a customer's email and name as last read: kept only as long
    as they are in use.
    """
    deleted = 0
    for model in (BraintreePaymentMethodCustomer, BraintreePlan, BraintreeMerchantAccount):
        count, _ = model.objects.filter(refreshed_at__lt=cutoff).delete()
        deleted += count
    return deleted
