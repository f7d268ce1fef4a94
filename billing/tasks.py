"""Celery tasks for billing: thin wrappers over billing.services."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.utils import timezone

from billing.providers.base import ProviderError
from billing.selectors import overview_cache
from billing.services import (
    braintree_recovery,
    drain,
    drain_requests,
    give_back,
    polling,
    processing,
    requeue,
    retention,
)
from subsync import worker_identity


@shared_task(bind=True, name="billing.tasks.process_webhook_event", max_retries=None)
def process_webhook_event(self, event_id: int) -> str | None:
    try:
        return processing.process_event(event_id=event_id)
    except processing.EventProcessingError as exc:
        if exc.permanent:
            return None
        raise self.retry(countdown=exc.countdown, exc=exc) from exc


@shared_task(name="billing.tasks.drain_webhook_events")
def drain_webhook_events(helper: bool = False) -> int:
    try:
        return drain.drain(helper=helper)
    except Exception:
        # The next stored event must be able to ask for a new drain at once.
        drain_requests.forget_request(helper=helper)
        raise


@worker_ready.connect
def release_events_of_a_dead_worker(**kwargs) -> None:
    """A worker starting under the name of one that died gives back its events at once."""
    worker_identity.release_earlier_claims(give_back.release_claims, what="webhook events")


@worker_ready.connect
def compute_overview_figures_at_start(**kwargs) -> None:
    """Ask for the Overview's figures as a worker starts instead of at beat's first tick a
    minute later: after a deploy or a lost cache, the first visitor finds them computed
    rather than waiting a second for them. Never raises (request_refresh logs)."""
    overview_cache.request_refresh()


@shared_task(name="billing.tasks.requeue_stuck_events")
def requeue_stuck_events() -> int:
    return requeue.requeue_stuck_events(older_than_seconds=settings.SUBSYNC_STUCK_EVENT_SECONDS)


@shared_task(name="billing.tasks.poll_chargebee_events")
def poll_chargebee_events() -> dict | None:
    """Store Chargebee events the webhooks missed; a failure waits for the next beat."""
    try:
        return polling.poll_chargebee_events().as_dict()
    except ProviderError as exc:
        logging.getLogger(__name__).warning(
            "chargebee event poll failed", extra={"error": str(exc), "permanent": exc.permanent}
        )
        return None


@shared_task(name="billing.tasks.reconcile_braintree_subscriptions")
def reconcile_braintree_subscriptions() -> dict | None:
    """Apply Braintree subscription changes no notification told us; a failure waits a beat."""
    try:
        return braintree_recovery.reconcile_braintree_subscriptions().as_dict()
    except ProviderError as exc:
        logging.getLogger(__name__).warning(
            "braintree reconcile failed", extra={"error": str(exc), "permanent": exc.permanent}
        )
        return None


# Well inside the task time limit (CELERY_TASK_SOFT_TIME_LIMIT); what is left waits a night.
PRUNE_SECONDS = 120


@shared_task(name="billing.tasks.prune_webhook_events")
def prune_webhook_events() -> dict | None:
    """Delete done events older than SUBSYNC_EVENT_RETENTION_DAYS (0: keep them all), failed
    and rejected ones an operator has seen older than SUBSYNC_FAILED_EVENT_RETENTION_DAYS, and
    Braintree look-ups older than SUBSYNC_BRAINTREE_CACHE_RETENTION_DAYS (0: keep)."""
    now = timezone.now()
    outcome = {}
    if days := settings.SUBSYNC_FAILED_EVENT_RETENTION_DAYS:
        outcome["seen_failures"] = retention.prune_seen_failures(
            cutoff=retention.retention_cutoff(days=days, now=now))
    if days := settings.SUBSYNC_BRAINTREE_CACHE_RETENTION_DAYS:
        outcome["braintree_cache"] = retention.prune_braintree_cache(
            cutoff=now - timedelta(days=days))
    if days := settings.SUBSYNC_EVENT_RETENTION_DAYS:
        outcome.update(retention.prune_events(cutoff=retention.retention_cutoff(days=days),
                                              max_seconds=PRUNE_SECONDS).as_dict())
    return outcome or None


@shared_task(name="billing.tasks.refresh_overview_figures")
def refresh_overview_figures() -> str:
    """Compute today's Overview figures into the cache (beat, every minute), so that visitors
    find them there instead of waiting for them."""
    cached = overview_cache.refresh_dashboard(today=timezone.now().date(), months=12)
    return cached.computed_at.isoformat()
