"""Store every provider delivery first, then process it (dj-stripe's WebhookEventTrigger).

`store_event` is what the webhook views, event polling and replays call: it writes the raw row
(unique per provider + event id), enqueues processing on commit, and tells duplicates apart.
`process_event` is what the Celery task calls: parse, then apply inside one transaction, and
keep the error and traceback on the row when anything fails.
"""

from __future__ import annotations

import hashlib
import logging
import traceback as tb
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing.models import WebhookEvent
from billing.normalized import ParsedEvent
from billing.providers.base import ProviderError, get_adapter
from billing.services.customers import apply_customer
from billing.services.subscriptions import apply_subscription
from subsync.celery import app

log = logging.getLogger(__name__)

State = WebhookEvent.State
DONE = frozenset({State.PROCESSED, State.IGNORED, State.STALE, State.REJECTED})
# Headers that carry credentials are never stored.
_SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})
PROCESS_TASK = "billing.tasks.process_webhook_event"


def storable(text: str) -> str:
    """Text PostgreSQL can store: NUL characters (never valid in a real event) become U+FFFD.

    Without this, a body or id carrying NUL would fail the INSERT and answer 500.
    """
    return text.replace("\x00", "\ufffd")


def storable_id(event_id: str) -> str:
    """An event id that fits the column: an over-long one is kept as its digest."""
    event_id = storable(event_id)
    if len(event_id) <= 255:
        return event_id
    return "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()


def safe_headers(headers) -> dict[str, str]:
    return {storable(k): storable(v) for k, v in headers.items()
            if k.lower() not in _SECRET_HEADERS}


def enqueue_processing(event_id: int) -> None:
    """Send the processing task once the surrounding transaction has committed."""
    transaction.on_commit(lambda: app.send_task(PROCESS_TASK, args=[event_id]))


@dataclass(frozen=True)
class StoreResult:
    event: WebhookEvent
    created: bool
    requeued: bool = False


def _insert(**fields) -> WebhookEvent:
    """INSERT one row; IntegrityError when its provider + event id is already stored.

    Outside a transaction (the webhook views, polling) the INSERT commits on its own: one round
    trip instead of BEGIN, INSERT, COMMIT on the path every delivery takes, and a duplicate
    leaves nothing to roll back. Inside the caller's transaction a savepoint keeps that
    transaction usable after a duplicate.
    """
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return WebhookEvent.objects.create(**fields)
    return WebhookEvent.objects.create(**fields)


def store_event(
    *, provider: str, event_id: str, event_type: str, body: str, headers: dict | None = None,
    occurred_at: datetime | None = None, source: str = WebhookEvent.Source.WEBHOOK,
    rejected_error: str = "",
) -> StoreResult:
    """Store a delivery exactly once and enqueue it; a duplicate is only re-run if it failed.

    With `rejected_error`, the row is kept as `rejected` (authenticated but unusable) and never
    processed: nothing a provider sent is lost, and the reason is on the row.
    """
    event_id = storable_id(event_id)
    fields = dict(
        event_type=storable(event_type)[:128], body=storable(body),
        headers=safe_headers(headers or {}), occurred_at=occurred_at, source=source,
    )
    if rejected_error:
        fields.update(status=State.REJECTED, error=storable(rejected_error))
    try:
        event = _insert(provider=provider, event_id=event_id, **fields)
    except IntegrityError:
        event = WebhookEvent.objects.get(provider=provider, event_id=event_id)
        if event.status == State.FAILED and not rejected_error:
            # A provider's redelivery of something we failed on is a chance to try again.
            WebhookEvent.objects.filter(pk=event.pk, status=State.FAILED).update(
                status=State.RECEIVED
            )
            enqueue_processing(event.pk)
            return StoreResult(event=event, created=False, requeued=True)
        return StoreResult(event=event, created=False)
    if not rejected_error:
        enqueue_processing(event.pk)
    return StoreResult(event=event, created=True)


class EventProcessingError(Exception):
    def __init__(self, message: str, *, permanent: bool, attempts: int,
                 retry_after: float | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.attempts = attempts
        self.retry_after = retry_after


def apply_parsed_event(parsed: ParsedEvent, *, event: WebhookEvent | None) -> str:
    """Apply customers and subscriptions; return the event's resulting status."""
    if not parsed.subscriptions and not parsed.customers:
        return State.IGNORED
    occurred_at = event.occurred_at if event is not None else None
    applied = False
    for customer in parsed.customers:
        _, did = apply_customer(customer=customer)
        applied = applied or did
    for subscription in parsed.subscriptions:
        result = apply_subscription(subscription=subscription, occurred_at=occurred_at,
                                    event=event)
        applied = applied or result.applied
    return State.PROCESSED if applied else State.STALE


def _claim(event_id: int) -> WebhookEvent | None:
    """Mark the event processing and count the attempt; None when there is nothing to do.

    One conditional UPDATE (atomic on its own) and one read: the hot path of every event.
    """
    claimed = (
        WebhookEvent.objects.filter(pk=event_id).exclude(status__in=DONE)
        .update(status=State.PROCESSING, attempts=F("attempts") + 1)
    )
    if not claimed:
        return None
    return WebhookEvent.objects.get(pk=event_id)


def _fail(event: WebhookEvent, exc: BaseException, *, permanent: bool) -> EventProcessingError:
    WebhookEvent.objects.filter(pk=event.pk).update(
        status=State.FAILED, error=f"{type(exc).__name__}: {exc}"[:5000],
        traceback=tb.format_exc()[-20000:],
    )
    give_up = permanent or event.attempts >= settings.SUBSYNC_EVENT_MAX_ATTEMPTS
    log.warning(
        "webhook event failed", extra={"event_pk": event.pk, "provider": event.provider,
                                       "attempts": event.attempts, "permanent": give_up,
                                       "error": type(exc).__name__},
    )
    return EventProcessingError(
        str(exc), permanent=give_up, attempts=event.attempts,
        retry_after=getattr(exc, "retry_after", None),
    )


def process_event(*, event_id: int) -> str:
    """Process one stored event. Idempotent: a done event is left alone.

    Raises EventProcessingError after recording the failure on the row; its `permanent` says
    whether the caller should schedule another attempt.
    """
    event = _claim(event_id)
    if event is None:
        return WebhookEvent.objects.values_list("status", flat=True).get(pk=event_id)
    try:
        # Parsing may call the provider's API (look-ups): keep it outside the transaction.
        parsed = get_adapter(event.provider).parse_event(event_type=event.event_type,
                                                         body=event.body)
        with transaction.atomic():
            status = apply_parsed_event(parsed, event=event)
            event.status = status
            event.error = parsed.ignored_reason if status == State.IGNORED else ""
            event.traceback = ""
            event.processed_at = timezone.now()
            event.save(update_fields=["status", "error", "traceback", "processed_at"])
    except ProviderError as exc:
        raise _fail(event, exc, permanent=exc.permanent) from exc
    except Exception as exc:
        raise _fail(event, exc, permanent=False) from exc
    return status


def requeue_stuck_events(*, older_than_seconds: int, limit: int = 500) -> int:
    """Enqueue events left `received` or `processing` (a lost message, a killed worker)."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    ids = list(
        WebhookEvent.objects.filter(
            status__in=[State.RECEIVED, State.PROCESSING], received_at__lt=cutoff,
            attempts__lt=settings.SUBSYNC_EVENT_MAX_ATTEMPTS,
        ).order_by("received_at").values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        app.send_task(PROCESS_TASK, args=[pk])
    return len(ids)
