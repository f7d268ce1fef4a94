"""Give back events whose claim outlived the run that made it: a worker killed mid-batch
(released by its next incarnation as it starts) or a run that lost its database connection.

Given back means `received` again, the attempt still counted, and a drain requested; an event
that was in its last allowed attempt is marked `failed` with the reason instead, where the
dashboard and `replay_events` show it. Its own module because both event processing (a lost
connection) and the stuck-event requeue (billing.services.requeue) use it, and the requeue
imports processing.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Q, QuerySet

from billing.models import WebhookEvent
from billing.services.drain_requests import request_drain

State = WebhookEvent.State
GAVE_UP = ("Gave up: the worker stopped during attempt {attempts} of {limit} and no attempt "
           "is left. Replay it once the cause is fixed.")
LOST_CONNECTION = ("Gave up: attempt {attempts} of {limit} lost its database connection and no "
                   "attempt is left. Replay it once the cause is fixed.")


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
    retry = give_up_exhausted(held, rows, reason=reason)
    if retry:
        held.filter(pk__in=retry).update(status=State.RECEIVED, claimed_by="")
        request_drain(force=True)
    return len(rows)


def give_up_exhausted(rows: QuerySet, found: list[tuple[int, int]],
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
