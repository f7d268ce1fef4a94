"""Celery tasks for billing: thin wrappers over billing.services."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from billing.services import events
from subsync.backoff import backoff_seconds


@shared_task(bind=True, name="billing.tasks.process_webhook_event", max_retries=None)
def process_webhook_event(self, event_id: int) -> str | None:
    try:
        return events.process_event(event_id=event_id)
    except events.EventProcessingError as exc:
        if exc.permanent:
            return None
        countdown = exc.retry_after or backoff_seconds(exc.attempts, base=10, cap=3600)
        raise self.retry(countdown=countdown, exc=exc) from exc


@shared_task(name="billing.tasks.requeue_stuck_events")
def requeue_stuck_events() -> int:
    return events.requeue_stuck_events(older_than_seconds=settings.SUBSYNC_STUCK_EVENT_SECONDS)
