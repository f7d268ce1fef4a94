"""Store every provider delivery first, exactly once, then announce it (dj-stripe's
WebhookEventTrigger).

`store_event` is what the webhook receivers, event polling and backfills call: it writes the
raw row (unique per provider + event id) in one statement, tells duplicates apart, and once
the row is committed announces it to the drain (billing.services.drain), which processes it
later (billing.services.processing). Nothing here parses or applies an event: a delivery's
answer waits only for its row.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import InterfaceError, OperationalError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from billing.models import WebhookEvent
from billing.services.drain import request_drain
from billing.services.processing import lease_expired
from subsync.db import DRIVER_TYPES, binds_server_side, server_binding_cursor

log = logging.getLogger(__name__)

State = WebhookEvent.State
# Headers that carry credentials are never stored.
_SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})
_RETRIED_ON_REDELIVERY = frozenset({State.FAILED, State.PROCESSING})


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
    """Store a delivery exactly once and enqueue it. A duplicate is re-run only if it failed,
    its worker died (lease expired), or it was kept rejected and this delivery is usable.

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

        requeued = False
        if status in _RETRIED_ON_REDELIVERY and not rejected_error:
            # A provider's redelivery of something we failed on, or that a dead worker held
            # (its lease ran out), is a chance to try again.
            requeued = bool(WebhookEvent.objects.filter(
                Q(status=State.FAILED) | lease_expired(), pk=pk).update(status=State.RECEIVED))
        elif status == State.REJECTED and not rejected_error:
            # A usable delivery of an event we could only keep as rejected (the webhook sent
            # another api_version; the poll lists it as v2): it takes the row over, fresh.
            requeued = bool(WebhookEvent.objects.filter(pk=pk, status=State.REJECTED).update(
                status=State.RECEIVED, attempts=0, error="", traceback="", **fields))
        if requeued:
            announce_on_commit(pk)
        return StoreResult(pk=pk, created=False, requeued=requeued, build=stored_row)
    pk, build = inserted
    if not rejected_error:
        announce_on_commit(pk)
    return StoreResult(pk=pk, created=True, build=build)
