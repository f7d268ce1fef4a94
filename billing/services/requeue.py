"""Restart work that was lost: an event whose drain request or task message never ran.

A broker or cache outage can lose the request for a drain, and a killed worker leaves the
events it had claimed `processing`. The beat task calls `requeue_stuck_events` regularly, so
no stored event waits forever. Its own module because it restarts both kinds of work: the
drain (billing.services.drain) and the per-event task (billing.services.processing).

A `processing` event is stuck when its lease ran out: its current attempt started (claimed_at)
longer ago than any attempt may take. Going by `received_at` instead handed an old event that
a worker was retrying right now to a second worker. An event whose worker died during its
last allowed attempt is not parked `processing` for ever: it is marked `failed`, with the
reason, where the dashboard and `replay_events` show it.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from billing.models import WebhookEvent
from billing.services.drain import request_drain
from billing.services.processing import PROCESS_TASK, lease_expired
from subsync.celery import app

State = WebhookEvent.State
GAVE_UP = ("Gave up: the worker stopped during attempt {attempts} of {limit} (its lease ran "
           "out) and no attempt is left. Replay it once the cause is fixed.")


def requeue_stuck_events(*, older_than_seconds: int, limit: int = 500) -> int:
    """Restart work lost to a lost message or a killed worker; return how many events.

    Events left `received` are taken by a drain (sent even if the flag says one is coming:
    the flag may belong to a drain that died). Events left `processing` past their lease get
    their own task, or are marked `failed` when they had no attempt left.
    """
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    waiting = WebhookEvent.objects.filter(status=State.RECEIVED, received_at__lt=cutoff).count()
    if waiting:
        request_drain(force=True)
    expired = WebhookEvent.objects.filter(lease_expired(seconds=older_than_seconds))
    stuck = list(expired.order_by("received_at").values_list("pk", "attempts")[:limit])
    max_attempts = settings.SUBSYNC_EVENT_MAX_ATTEMPTS
    exhausted: dict[int, list[int]] = {}
    for pk, attempts in stuck:
        if attempts < max_attempts:
            app.send_task(PROCESS_TASK, args=[pk])
        else:
            exhausted.setdefault(attempts, []).append(pk)
    for attempts, pks in exhausted.items():
        # Only if still expired: a replay may have reset one meanwhile.
        expired.filter(pk__in=pks).update(
            status=State.FAILED, error=GAVE_UP.format(attempts=attempts, limit=max_attempts),
            traceback="",
        )
    return waiting + len(stuck)
