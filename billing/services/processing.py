"""Process stored events: claim them, parse them, apply them in order, record the outcome.

`process_event` is what the per-event Celery task calls (retries, replays, stuck events);
the drain (billing.services.drain) claims received events in batches and hands them to
`process_claimed`. Parsing happens before the transaction (it may call the provider's API);
applying is billing.services.batch, in one transaction per batch. A failure keeps its error
and traceback on its own event's row, and is retried with a delay unless it is permanent.
"""

from __future__ import annotations

import logging
import traceback as tb
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from billing.models import WebhookEvent
from billing.normalized import ParsedEvent
from billing.providers.base import ProviderError, get_adapter
from billing.services import give_back
from billing.services.batch import Change, apply_changes
from subsync import worker_identity
from subsync.backoff import backoff_seconds
from subsync.celery import app
from subsync.lost_connection import give_back_on_connection_loss

log = logging.getLogger(__name__)

State = WebhookEvent.State
DONE = frozenset({State.PROCESSED, State.IGNORED, State.STALE, State.REJECTED})
PROCESS_TASK = "billing.tasks.process_webhook_event"


class EventProcessingError(Exception):
    """A failed attempt, recorded on the row; `countdown` is the delay before the next attempt
    (None when `permanent`: no attempt is coming)."""

    def __init__(self, message: str, *, permanent: bool, attempts: int,
                 countdown: float | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.attempts = attempts
        self.countdown = countdown


def apply_parsed_events(ready: list[tuple[WebhookEvent, ParsedEvent]]) -> list[str]:
    """Apply the events' customers and subscriptions in order, in one batch; return each
    event's resulting status (ignored, processed, or stale when nothing in it was newer)."""
    relevant = [(event, parsed) for event, parsed in ready
                if parsed.subscriptions or parsed.customers]
    results = iter(apply_changes([
        Change(customers=parsed.customers, subscriptions=parsed.subscriptions, event=event,
               occurred_at=event.occurred_at)
        for event, parsed in relevant
    ]))
    return [
        (State.PROCESSED if next(results).applied else State.STALE)
        if parsed.subscriptions or parsed.customers else State.IGNORED
        for _, parsed in ready
    ]


def lease_expired(*, seconds: int | None = None) -> Q:
    """`processing` events whose worker's lease has run out: their attempt started (claimed_at)
    more than `seconds` ago (SUBSYNC_STUCK_EVENT_SECONDS, which is at least the task time
    limit, so a worker still alive is never in this set). Rows claimed before the lease
    existed have no claimed_at and count as expired."""
    if seconds is None:
        seconds = settings.SUBSYNC_STUCK_EVENT_SECONDS
    cutoff = timezone.now() - timezone.timedelta(seconds=seconds)
    return Q(status=State.PROCESSING) & (Q(claimed_at__lt=cutoff) | Q(claimed_at__isnull=True))


def claim_events(*, limit: int = 1, ids: Sequence[int] | None = None) -> list[WebhookEvent]:
    """Mark events `processing`, count the attempt, start its lease and name its holder (the
    worker's node name, subsync.worker_identity); return them, oldest first.

    Without `ids`: up to `limit` received events, skipping rows another worker is claiming
    (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite serialises writers anyway). With `ids`:
    those events unless they are done or another worker holds them (a retry, a replay, a
    stuck event whose lease ran out): a second task for the same event, sent by two runs of
    the stuck-event requeue, finds it held and leaves it alone.
    """
    with transaction.atomic():
        # Processing needs neither the stored headers nor an earlier error: not loading them
        # saves decoding a JSON document per event.
        rows = (WebhookEvent.objects.select_for_update(skip_locked=True)
                .defer("headers", "error", "traceback"))
        if ids is not None:
            rows = (rows.filter(pk__in=list(ids)).exclude(status__in=DONE)
                    .filter(~Q(status=State.PROCESSING) | lease_expired()).order_by("pk"))
        else:
            rows = rows.filter(status=State.RECEIVED).order_by("received_at")[:limit]
        claimed = list(rows)
        now, holder = timezone.now(), worker_identity.node_name()
        if claimed:
            WebhookEvent.objects.filter(pk__in=[event.pk for event in claimed]).update(
                status=State.PROCESSING, attempts=F("attempts") + 1, claimed_at=now,
                claimed_by=holder, next_attempt_at=None,
            )
    for event in claimed:
        event.status = State.PROCESSING
        event.attempts += 1
        event.claimed_at, event.claimed_by = now, holder
    return claimed


def _fail(event: WebhookEvent, exc: BaseException, *, permanent: bool) -> EventProcessingError:
    """Keep the error and traceback on the row (call inside the `except`), and when the next
    attempt is due, so that a retry message lost on the way is sent again (requeue)."""
    give_up = permanent or event.attempts >= settings.SUBSYNC_EVENT_MAX_ATTEMPTS
    countdown = None if give_up else (getattr(exc, "retry_after", None)
                                      or backoff_seconds(event.attempts, base=10, cap=3600))
    WebhookEvent.objects.filter(pk=event.pk).update(
        status=State.FAILED, error=f"{type(exc).__name__}: {exc}"[:5000],
        traceback=tb.format_exc()[-20000:],
        next_attempt_at=(None if countdown is None
                         else timezone.now() + timezone.timedelta(seconds=countdown)),
    )
    event.status = State.FAILED
    log.warning(
        "webhook event failed", extra={"event_pk": event.pk, "provider": event.provider,
                                       "attempts": event.attempts, "permanent": give_up,
                                       "error": type(exc).__name__},
    )
    return EventProcessingError(str(exc), permanent=give_up, attempts=event.attempts,
                                countdown=countdown)


def _failure(event: WebhookEvent, exc: Exception) -> EventProcessingError:
    if isinstance(exc, ProviderError):
        return _fail(event, exc, permanent=exc.permanent)
    return _fail(event, exc, permanent=False)


def _mark_done(results: list[tuple[WebhookEvent, ParsedEvent, str]]) -> None:
    """Record every result with one UPDATE per distinct (status, note)."""
    now = timezone.now()
    groups: dict[tuple[str, str], list[int]] = {}
    for event, parsed, status in results:
        note = parsed.ignored_reason if status == State.IGNORED else ""
        groups.setdefault((status, note), []).append(event.pk)
        event.status, event.error, event.traceback, event.processed_at = status, note, "", now
    for (status, note), pks in groups.items():
        WebhookEvent.objects.filter(pk__in=pks).update(
            status=status, error=note, traceback="", processed_at=now,
        )


def _apply_together(ready: list[tuple[WebhookEvent, ParsedEvent]]) -> None:
    """Apply parsed events in order in one transaction, and record their results in it."""
    with transaction.atomic():
        statuses = apply_parsed_events(ready)
        _mark_done([(event, parsed, status)
                    for (event, parsed), status in zip(ready, statuses, strict=True)])


@dataclass
class BatchOutcome:
    statuses: dict[int, str]
    failures: dict[int, EventProcessingError]


def process_claimed(claimed: list[WebhookEvent]) -> BatchOutcome:
    """Parse, then apply claimed events; a failure is kept on its own event only.

    Parsing may call the provider's API (look-ups), so it happens before the transaction.
    The batch is applied in one transaction; if that fails, each event is applied again on
    its own, so that one poison event fails alone and the others still land. If the
    database connection is lost (no outcome can be recorded), the events still held are
    given back as soon as the database answers again (subsync.lost_connection), then the
    error is raised.
    """
    with give_back_on_connection_loss(partial(give_back.release_unfinished, events=claimed),
                                      what="webhook events"):
        return _process_claimed(claimed)


def _process_claimed(claimed: list[WebhookEvent]) -> BatchOutcome:
    outcome = BatchOutcome(statuses={}, failures={})
    ready: list[tuple[WebhookEvent, ParsedEvent]] = []
    for event in claimed:
        try:
            parsed = get_adapter(event.provider).parse_event(event_type=event.event_type,
                                                             body=event.body)
        except Exception as exc:
            outcome.failures[event.pk] = _failure(event, exc)
            continue
        ready.append((event, parsed))
    try:
        if ready:
            _apply_together(ready)
    except Exception as exc:
        if len(ready) == 1:
            outcome.failures[ready[0][0].pk] = _failure(ready[0][0], exc)
            ready = []
        else:
            log.info("batch of %d events failed; applying them one by one", len(ready),
                     extra={"error": type(exc).__name__})
            ready = _apply_one_by_one(ready, outcome)
    outcome.statuses.update({event.pk: event.status for event, _ in ready})
    return outcome


def _apply_one_by_one(ready, outcome: BatchOutcome) -> list[tuple[WebhookEvent, ParsedEvent]]:
    applied = []
    for event, parsed in ready:
        try:
            _apply_together([(event, parsed)])
        except Exception as exc:
            outcome.failures[event.pk] = _failure(event, exc)
        else:
            applied.append((event, parsed))
    return applied


def schedule_retries(failures: dict[int, EventProcessingError]) -> None:
    """Send a delayed single-event task for each failure that is worth another attempt."""
    for event_id, failure in failures.items():
        if not failure.permanent:
            app.send_task(PROCESS_TASK, args=[event_id], countdown=failure.countdown)


def process_event(*, event_id: int) -> str:
    """Process one stored event. Idempotent: a done event is left alone.

    Raises EventProcessingError after recording the failure on the row; its `permanent` says
    whether the caller should schedule another attempt.
    """
    claimed = claim_events(ids=[event_id])
    if not claimed:
        return WebhookEvent.objects.values_list("status", flat=True).get(pk=event_id)
    outcome = process_claimed(claimed)
    if event_id in outcome.failures:
        raise outcome.failures[event_id]
    return outcome.statuses[event_id]
