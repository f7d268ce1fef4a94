"""Restart work that was lost: an event whose drain request or task message never ran.

A broker or cache outage can lose the request for a drain, and a killed worker leaves the
events it had claimed `processing`. The beat task calls `requeue_stuck_events` regularly, so
no stored event waits forever. Its own module because it restarts both kinds of work: the
drain (billing.services.drain) and the per-event task (billing.services.processing).
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from billing.models import WebhookEvent
from billing.services.drain import request_drain
from billing.services.processing import PROCESS_TASK
from subsync.celery import app

State = WebhookEvent.State


def requeue_stuck_events(*, older_than_seconds: int, limit: int = 500) -> int:
    """Restart work lost to a lost message or a killed worker; return how many events.

    Events left `received` are taken by a drain (sent even if the flag says one is coming:
    the flag may belong to a drain that died). Events left `processing` get their own task.
    """
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    stuck = WebhookEvent.objects.filter(
        received_at__lt=cutoff, attempts__lt=settings.SUBSYNC_EVENT_MAX_ATTEMPTS,
    )
    waiting = stuck.filter(status=State.RECEIVED).count()
    if waiting:
        request_drain(force=True)
    ids = list(
        stuck.filter(status=State.PROCESSING).order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        app.send_task(PROCESS_TASK, args=[pk])
    return waiting + len(ids)
