"""Store every provider delivery first, then process it (dj-stripe's WebhookEventTrigger).

`store_event` is what the webhook views, event polling and replays call: it writes the raw row
(unique per provider + event id), enqueues processing on commit, and tells duplicates apart.
`process_event` is what the Celery task calls: parse, then apply inside one transaction, and
keep the error and traceback on the row when anything fails.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import traceback as tb
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections, transaction
from django.db.models import F
from django.utils import timezone

from billing.models import WebhookEvent
from billing.normalized import ParsedEvent
from billing.providers.base import ProviderError, get_adapter
from billing.services.batch import Change, apply_changes
from billing.services.drain import request_drain
from subsync.backoff import backoff_seconds
from subsync.celery import app
from subsync.db import DRIVER_TYPES, binds_server_side, server_binding_cursor

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


def announce(event_id: int) -> None:
    """A received event is committed: have it processed, by a drain that takes it in a batch.

    Called after the commit. The event id is not needed by the drain (it claims whatever is
    received); it is the seam tests use to see what was announced.
    """
    request_drain()


def announce_on_commit(event_id: int) -> None:
    """Announce a received event once the surrounding transaction has committed."""
    transaction.on_commit(lambda: announce(event_id))


@dataclass(frozen=True)
class StoreResult:
    """What storing a delivery did. `event` is the row as a model instance, built only when
    asked for: a webhook answer needs only `created` and `requeued`, and building the instance
    was a tenth of a delivery's CPU time."""

    pk: int
    created: bool
    requeued: bool = False
    build: Callable[[], WebhookEvent] | None = field(default=None, repr=False, compare=False)

    @functools.cached_property
    def event(self) -> WebhookEvent:
        return self.build()


@functools.cache
def _insert_sql(alias: str) -> tuple[str, tuple, tuple[bool, ...]]:
    """INSERT ... ON CONFLICT (provider, event_id) DO NOTHING RETURNING id, its fields, and
    for each field whether its value goes to the driver as it is (see _passes_as_it_is).

    Only the model's own table and column names go into the text; values are parameters.
    Built once per database: every webhook runs it.
    """
    connection = connections[alias]
    meta = WebhookEvent._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    conflict = f"{quote('provider')}, {quote('event_id')}"
    sql = " ".join([
        "INSERT INTO", quote(meta.db_table), f"({columns})", "VALUES", f"({placeholders})",
        "ON CONFLICT", f"({conflict})", "DO NOTHING RETURNING", quote(meta.pk.column),
    ])
    native = [connection.vendor == "postgresql" and _passes_as_it_is(f) for f in fields]
    return sql, tuple(fields), tuple(native)


def _passes_as_it_is(field) -> bool:
    """Whether the INSERT hands `field`'s value to psycopg unconverted (PostgreSQL only).

    Its values here (str, int, aware datetime or None) are what the field's conversion would
    return anyway (subsync.db.DRIVER_TYPES), and that conversion cost a fifth of the INSERT.
    Any other field (the JSON headers), and every field on SQLite (whose datetimes Django
    stores as naive UTC text), goes through its own conversion.
    """
    return field.get_internal_type() in DRIVER_TYPES


def _execute_returning(connection, sql: str, values: list) -> tuple | None:
    """Run `sql` and return its one row, if any.

    On PostgreSQL through a server-side-binding cursor (subsync.db): the values travel as
    parameters, not quoted into the text by the client (for a body of a few kilobytes that
    was a fifth of a delivery's CPU time), and psycopg prepares the
    statement once it has run a few times on the connection (prepare_threshold, which
    subsync.settings sets; DATABASE_PREPARED_STATEMENTS=false behind a pooler that cannot
    keep them).
    """
    opened = (server_binding_cursor(connection) if binds_server_side(connection)
              else connection.cursor())
    with opened as cursor:
        cursor.execute(sql, values)
        return cursor.fetchone()


def _insert(**fields) -> tuple[int, Callable[[], WebhookEvent]] | None:
    """INSERT one row unless its provider + event id is already stored (then None); return
    its primary key and how to build its model instance.

    One statement that cannot fail on a duplicate: outside a transaction (the webhook views,
    polling) it commits on its own, and inside a caller's transaction it needs no savepoint.
    Written by hand because the ORM's insert compiler cost more CPU than the rest of a
    delivery's storage; the values still go through each field's own conversion, and fields
    not given take their model default (received_at: now).
    """
    connection = transaction.get_connection()
    sql, model_fields, native = _insert_sql(connection.alias)
    row_values = _with_defaults(fields, model_fields)
    values = [row_values[f.attname] if as_is else f.get_db_prep_save(row_values[f.attname],
                                                                        connection)
              for f, as_is in zip(model_fields, native, strict=True)]
    try:
        row = _execute_returning(connection, sql, values)
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block:
            raise
        # The connection broke since it was last used (a database restart): one new one.
        log.warning("database connection lost; storing the event on a new one")
        connection.close()
        row = _execute_returning(connection, sql, values)
    if row is None:
        return None
    pk, alias = row[0], connection.alias

    def build() -> WebhookEvent:
        event = WebhookEvent(pk=pk, **row_values)
        event._state.adding = False
        event._state.db = alias
        return event

    return pk, build


@functools.cache
def _lookup_sql(alias: str) -> str:
    """SELECT id, status of one event by provider and event id (identifiers only in it)."""
    quote = connections[alias].ops.quote_name
    return " ".join([
        "SELECT", f"{quote(WebhookEvent._meta.pk.column)}, {quote('status')}",
        "FROM", quote(WebhookEvent._meta.db_table),
        "WHERE", f"{quote('provider')} = %s AND {quote('event_id')} = %s",
    ])


def _id_and_status(*, provider: str, event_id: str) -> tuple[int, str] | None:
    """The stored duplicate's id and status: all a duplicate's answer needs.

    One prepared statement like the INSERT's (a queryset cost twice the CPU of a new
    delivery), and not the whole row, whose body would be read back from the TOAST table.
    """
    connection = transaction.get_connection()
    return _execute_returning(connection, _lookup_sql(connection.alias), [provider, event_id])


def _with_defaults(given: dict, model_fields: tuple) -> dict:
    """Every column's value: the given ones, `received_at` now, the rest their defaults."""
    values = dict(given)
    for f in model_fields:
        if f.attname not in values:
            values[f.attname] = (timezone.now() if getattr(f, "auto_now_add", False)
                                 else f.get_default())
    return values


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
    for _ in range(3):
        inserted = _insert(provider=provider, event_id=event_id, **fields)
        existing = None if inserted else _id_and_status(provider=provider, event_id=event_id)
        if inserted or existing:
            break
        # Neither stored nor found: deleted between the two statements (retention pruning an
        # old event as the provider resent it). Store it anew.
    else:
        raise RuntimeError(f"{provider} event {event_id} neither stored nor found")
    if existing:
        pk, status = existing

        def stored_row() -> WebhookEvent:
            return WebhookEvent.objects.get(pk=pk)

        requeued = status == State.FAILED and not rejected_error and bool(
            # A provider's redelivery of something we failed on is a chance to try again.
            WebhookEvent.objects.filter(pk=pk, status=State.FAILED).update(
                status=State.RECEIVED))
        if requeued:
            announce_on_commit(pk)
        return StoreResult(pk=pk, created=False, requeued=requeued, build=stored_row)
    pk, build = inserted
    if not rejected_error:
        announce_on_commit(pk)
    return StoreResult(pk=pk, created=True, build=build)


class EventProcessingError(Exception):
    def __init__(self, message: str, *, permanent: bool, attempts: int,
                 retry_after: float | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.attempts = attempts
        self.retry_after = retry_after


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


def claim_events(*, limit: int = 1, ids: Sequence[int] | None = None) -> list[WebhookEvent]:
    """Mark events `processing` and count the attempt; return them, oldest first.

    Without `ids`: up to `limit` received events, skipping rows another worker is claiming
    (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite serialises writers anyway). With `ids`:
    those events unless they are done (a retry, a replay, a stuck event).
    """
    with transaction.atomic():
        # Processing needs neither the stored headers nor an earlier error: not loading them
        # saves decoding a JSON document per event.
        rows = (WebhookEvent.objects.select_for_update(skip_locked=True)
                .defer("headers", "error", "traceback"))
        if ids is not None:
            rows = rows.filter(pk__in=list(ids)).exclude(status__in=DONE).order_by("pk")
        else:
            rows = rows.filter(status=State.RECEIVED).order_by("received_at")[:limit]
        claimed = list(rows)
        if claimed:
            WebhookEvent.objects.filter(pk__in=[event.pk for event in claimed]).update(
                status=State.PROCESSING, attempts=F("attempts") + 1,
            )
    for event in claimed:
        event.status = State.PROCESSING
        event.attempts += 1
    return claimed


def _fail(event: WebhookEvent, exc: BaseException, *, permanent: bool) -> EventProcessingError:
    """Keep the error and traceback on the row (call inside the `except`)."""
    WebhookEvent.objects.filter(pk=event.pk).update(
        status=State.FAILED, error=f"{type(exc).__name__}: {exc}"[:5000],
        traceback=tb.format_exc()[-20000:],
    )
    event.status = State.FAILED
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
    its own, so that one poison event fails alone and the others still land.
    """
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
        if failure.permanent:
            continue
        countdown = failure.retry_after or backoff_seconds(failure.attempts, base=10, cap=3600)
        app.send_task(PROCESS_TASK, args=[event_id], countdown=countdown)


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
