"""The webhook event log: stored deliveries filtered, counted, and one shown with its body.

Lists never load `body` (it can be up to 1 MiB per row); only the detail reads it. The body is
shown as the provider sent it, made readable: Chargebee's JSON indented, Braintree's form with
its base64 `bt_payload` decoded to indented XML. Anything that cannot be read that way (a
rejected delivery is often malformed on purpose) is shown raw with a note, never an error.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

from django.db.models import Count, Q, QuerySet

from billing.models import WebhookEvent
from billing.normalized import Provider
from billing.providers.braintree.intake import read_form
from billing.selectors.params import Page, PageRequest, Reader, paginate

# Stored request headers that carry credentials (Chargebee's webhook basic auth): never shown.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
_LIST_FIELDS = ("id", "provider", "event_id", "event_type", "source", "occurred_at",
                "received_at", "status", "attempts", "error", "processed_at")


@dataclass(frozen=True)
class EventFilters:
    """`received_from` and `received_to` are UTC dates, both included."""

    provider: str = ""
    status: str = ""
    event_type: str = ""
    received_from: dt.date | None = None
    received_to: dt.date | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, Any] | None) -> EventFilters:
        """Parameters: provider, status, type, from, to (YYYY-MM-DD)."""
        reader = Reader(query)
        filters = cls(
            provider=reader.choice("provider", [p.value for p in Provider]),
            status=reader.choice("status", WebhookEvent.State.values),
            event_type=reader.text("type", max_length=128),
            received_from=reader.date("from"),
            received_to=reader.date("to"),
        )
        if (filters.received_from and filters.received_to
                and filters.received_from > filters.received_to):
            reader.fail("to", "must not be before from")
        reader.done()
        return filters


@dataclass(frozen=True)
class EventRow:
    id: int
    provider: str
    event_id: str
    event_type: str
    source: str
    occurred_at: dt.datetime | None
    received_at: dt.datetime
    status: str
    attempts: int
    error: str
    processed_at: dt.datetime | None


@dataclass(frozen=True)
class EventDetail:
    event: EventRow
    headers: dict[str, str]  # credentials replaced by "(hidden)"
    body: str  # as stored
    body_pretty: str  # indented JSON or XML, else the body as stored
    body_format: str  # "json", "xml" or "raw"
    body_note: str  # why the body is shown raw ("" when it could be read)
    traceback: str
    subscription_ids: tuple[int, ...]  # subscriptions whose ledger rows this event wrote


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _filtered(filters: EventFilters, *, with_status: bool = True):
    query = Q()
    if filters.provider:
        query &= Q(provider=filters.provider)
    if filters.status and with_status:
        query &= Q(status=filters.status)
    if filters.event_type:
        query &= Q(event_type=filters.event_type)
    if filters.received_from:
        query &= Q(received_at__gte=_midnight(filters.received_from))
    if filters.received_to:
        query &= Q(received_at__lt=_midnight(filters.received_to + dt.timedelta(days=1)))
    return WebhookEvent.objects.filter(query)


def list_events(*, filters: EventFilters, page: PageRequest) -> Page[EventRow]:
    """Newest first (received), two queries whatever the page size."""
    return paginate(event_rows(filters=filters), page=page, convert=lambda row: EventRow(**row))


def event_rows(*, filters: EventFilters) -> QuerySet:
    """The matching events, newest first, as values of EventRow's fields (never the body),
    for callers that page them their own way (the REST API, with a cursor)."""
    return _filtered(filters).order_by("-received_at", "-id").values(*_LIST_FIELDS)


def event_counts_by_status(*, filters: EventFilters) -> dict[str, int]:
    """Events per status under every filter but the status one (for the status tabs); every
    status is present, 0 when none."""
    counts = dict.fromkeys(WebhookEvent.State.values, 0)
    for row in (_filtered(filters, with_status=False).order_by().values("status")
                .annotate(n=Count("id"))):
        counts[row["status"]] = row["n"]
    return counts


def event_detail(*, pk: int) -> EventDetail | None:
    """One stored event with its body made readable, or None when there is no such event."""
    event = WebhookEvent.objects.filter(pk=pk).first()
    if event is None:
        return None
    pretty, fmt, note = pretty_body(provider=event.provider, body=event.body)
    return EventDetail(
        event=EventRow(**{name: getattr(event, name) for name in _LIST_FIELDS}),
        headers=safe_headers(event.headers),
        body=event.body, body_pretty=pretty, body_format=fmt, body_note=note,
        traceback=event.traceback,
        subscription_ids=tuple(event.changes.order_by("subscription_id")
                               .values_list("subscription_id", flat=True).distinct()),
    )


def safe_headers(headers: Any) -> dict[str, str]:
    """Stored headers as text, with credentials hidden (the webhook's basic auth is stored)."""
    if not isinstance(headers, dict):
        return {}
    return {str(name): "(hidden)" if str(name).lower() in _SECRET_HEADERS else str(value)
            for name, value in headers.items()}


def pretty_body(*, provider: str, body: str) -> tuple[str, str, str]:
    """(text, format, note): the body made readable, or as stored with a note saying why."""
    if not body:
        return "", "raw", "the delivery had an empty body"
    if provider == Provider.BRAINTREE:
        return _braintree_body(body)
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False), "json", ""
    except ValueError as exc:
        return body, "raw", f"not valid JSON ({exc})"


def _braintree_body(body: str) -> tuple[str, str, str]:
    payload = read_form(body).payload
    if not payload:
        return body, "raw", "no bt_payload field in the stored form"
    try:
        xml = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        return body, "raw", f"bt_payload is not valid base64 ({exc})"
    try:
        # Only shown, never acted on: ElementTree resolves no external entities, and the
        # expat Python ships with refuses entity-expansion bombs.
        root = ElementTree.fromstring(xml)  # noqa: S314
    except ElementTree.ParseError as exc:
        return xml.decode("utf-8", "replace"), "raw", f"bt_payload is not valid XML ({exc})"
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode"), "xml", ""
