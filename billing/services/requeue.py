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

A worker that starts does not wait for those leases: `release_claims` gives back at once the
events its own node name held before it started (subsync.worker_identity), which only an
earlier incarnation of it, now dead, can have claimed. And a run whose database connection
died under it (a PostgreSQL restart) gives back its own claims once the database answers
again (`release_unfinished`, called through subsync.lost_connection by processing).

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

from datetime import datetime

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from billing.models import WebhookEvent
from billing.services.drain import FLAG_SECONDS, request_drain
from billing.services.processing import PROCESS_TASK, lease_expired
from subsync.celery import app

State = WebhookEvent.State
GAVE_UP = ("Gave up: the worker stopped during attempt {attempts} of {limit} and no attempt "
           "is left. Replay it once the cause is fixed.")
LOST_CONNECTION = ("Gave up: attempt {attempts} of {limit} lost its database connection and no "
                   "attempt is left. Replay it once the cause is fixed.")
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
    retry = _give_up_exhausted(expired, stuck)
    for pk in retry:
        app.send_task(PROCESS_TASK, args=[pk])
    return waiting + len(stuck) + _resend_overdue_retries(now=now, limit=limit)


def release_claims(*, node: str, before: datetime) -> int:
    """Give back the events worker `node` held in `processing` since before `before` (its
    start): an earlier incarnation of it claimed them and died. They are `received` again,
    their attempt still counted, and a drain is requested; one that was in its last allowed
    attempt is marked `failed` with the reason. Returns how many events were released.

    Nothing for a process that is not a worker (`node` empty): its claims wait for the lease.
    """
    if not node:
        return 0
    return _give_back(WebhookEvent.objects.filter(status=State.PROCESSING, claimed_by=node,
                                                  claimed_at__lt=before))


def release_unfinished(*, events: list[WebhookEvent]) -> int:
    """Give back the claimed `events` that still hold this run's claim (`processing`, with
    the claimed_at claim_events gave them): the run lost its database connection before
    their outcome. Like release_claims: `received` again, the attempt still counted, a drain
    requested; one in its last allowed attempt is marked `failed` with the reason. Events
    with an outcome, or claimed again since, are left alone. Returns how many."""
    stamps = Q()
    for claimed_at in {event.claimed_at for event in events}:
        stamps |= Q(claimed_at=claimed_at,
                    pk__in=[event.pk for event in events if event.claimed_at == claimed_at])
    if not stamps:
        return 0
    return _give_back(WebhookEvent.objects.filter(stamps, status=State.PROCESSING),
                      reason=LOST_CONNECTION)


def _give_back(held: QuerySet, *, reason: str = GAVE_UP) -> int:
    """Make the `held` events `received` again (their attempt stays counted) and request a
    drain; those without an attempt left are marked `failed` instead. Returns how many."""
    rows = list(held.values_list("pk", "attempts"))
    retry = _give_up_exhausted(held, rows, reason=reason)
    if retry:
        held.filter(pk__in=retry).update(status=State.RECEIVED, claimed_by="")
        request_drain(force=True)
    return len(rows)


def _give_up_exhausted(rows: QuerySet, found: list[tuple[int, int]],
                       *, reason: str = GAVE_UP) -> list[int]:
    """Mark `failed`, with the `reason`, the events among `found` (pk, attempts) that had no
    attempt left; return the pks of the others. Only rows still in `rows` change: a replay
    may have reset one meanwhile."""
    max_attempts = settings.SUBSYNC_EVENT_MAX_ATTEMPTS
    exhausted: dict[int, list[int]] = {}
    retry = []
    for pk, attempts in found:
        if attempts < max_attempts:
            retry.append(pk)
        else:
            exhausted.setdefault(attempts, []).append(pk)
    for attempts, pks in exhausted.items():
        rows.filter(pk__in=pks).update(
            status=State.FAILED, error=reason.format(attempts=attempts, limit=max_attempts),
            traceback="",
        )
    return retry


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
