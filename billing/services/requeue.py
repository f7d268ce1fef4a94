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

A worker that starts does not wait for those leases: billing.services.give_back's
release_claims gives back at once the events its own node name held before it started
(subsync.worker_identity), which only an earlier incarnation of it, now dead, can have
claimed. And a run whose database connection
died under it (a PostgreSQL restart) gives back its own claims once the database answers
again (give_back.release_unfinished, called through subsync.lost_connection by processing).

A `received` event is taken for lost once older than WAITING_SECONDS, the lifetime of the
drain flag: by then a drain requested for it has either run or died (a drain that died leaves
its flag behind for that long, and no new request sends one meanwhile).

A `failed` event waiting for its delayed retry is stuck when the retry is well overdue
(next_attempt_at more than RETRY_GRACE_SECONDS ago): the retry is a Celery message with a
countdown, and a Redis outage when it was sent, or a killed worker holding it (Redis hands
it to another worker only after the visibility timeout, an hour), lost it. Its task is sent
again; a second message for an event that is meanwhile being retried finds it held or done
and does nothing (processing.claim_events).
"""

from __future__ import annotations

from django.utils import timezone

from billing.models import WebhookEvent
from billing.services.drain_requests import FLAG_SECONDS, request_drain
from billing.services.give_back import give_up_exhausted
from billing.services.processing import PROCESS_TASK, lease_expired
from subsync.celery import app

State = WebhookEvent.State
# How old a `received` event must be before the requeue starts a drain for it anyway.
WAITING_SECONDS = FLAG_SECONDS
# How long past its due time a retry may still be on its way (a busy worker runs a due message
# late) before it is taken for lost: about one beat period.
RETRY_GRACE_SECONDS = 60


def requeue_stuck_events(*, older_than_seconds: int, limit: int = 500,
                         waiting_seconds: int = WAITING_SECONDS) -> int:
    """Restart work lost to a lost message or a killed worker; return how many events.

    Events left `received` longer than `waiting_seconds` are taken by a drain (sent even if
    the flag says one is coming: the flag may belong to a drain that died). Events left
    `processing` past their lease (`older_than_seconds`) get their own task, or are marked
    `failed` when they had no attempt left. Failed events whose retry is overdue get their
    task again.
    """
    now = timezone.now()
    cutoff = now - timezone.timedelta(seconds=waiting_seconds)
    waiting = WebhookEvent.objects.filter(status=State.RECEIVED, received_at__lt=cutoff).count()
    if waiting:
        request_drain(force=True)
    expired = WebhookEvent.objects.filter(lease_expired(seconds=older_than_seconds))
    stuck = list(expired.order_by("received_at").values_list("pk", "attempts")[:limit])
    retry = give_up_exhausted(expired, stuck)
    for pk in retry:
        app.send_task(PROCESS_TASK, args=[pk])
    return waiting + len(stuck) + _resend_overdue_retries(now=now, limit=limit)


def _resend_overdue_retries(*, now, limit: int) -> int:
    """Send the task of failed events whose retry is RETRY_GRACE_SECONDS overdue, and make
    them due now, so that the next run waits the grace again before sending another."""
    overdue = WebhookEvent.objects.filter(
        status=State.FAILED,
        next_attempt_at__lt=now - timezone.timedelta(seconds=RETRY_GRACE_SECONDS))
    pks = list(overdue.order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    if pks:
        # Before sending: a task that runs at once must not find its own stamp overwritten.
        overdue.filter(pk__in=pks).update(next_attempt_at=now)
        for pk in pks:
            app.send_task(PROCESS_TASK, args=[pk])
    return len(pks)
