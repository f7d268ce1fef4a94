"""Missed-event polling: ask Chargebee for its recent events and store the ones we lack.

Chargebee gives up on a webhook after about three days of retries, and a delivery can be lost
to an outage on our side or a misconfigured endpoint. Every few minutes beat runs this: it lists
the events since the last one it saw and feeds each through `store_event`, the webhook path,
so dedupe by event id makes anything already received (by webhook or an earlier poll) a no-op.

The position is a Cursor row holding the newest `occurred_at` seen. Chargebee's times are whole
seconds and `occurred_at[after]` is strict, so we ask from one second before it: events that
share the last second are seen again rather than missed, and dedupe drops them. A first run
looks back `SUBSYNC_CHARGEBEE_POLL_LOOKBACK_HOURS` (three days: Chargebee's retry window).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.models import Cursor, WebhookEvent
from billing.providers.base import ProviderError
from billing.providers.chargebee.api import ChargebeeApi, ChargebeeApiError
from billing.providers.chargebee.client import api_configured, api_from_settings
from billing.providers.chargebee.errors import ChargebeeEventError
from billing.providers.chargebee.intake import best_effort_id, best_effort_type
from billing.providers.chargebee.parse import read_envelope
from billing.services.intake import store_event
from billing.webhooks.common import payload_digest

log = logging.getLogger(__name__)

PROVIDER = "chargebee"
CURSOR_NAME = "poll:events"
# A run stops after this many pages (100 events each) and the next beat carries on from the
# cursor, so one run stays well inside the task time limit even after a long outage.
DEFAULT_MAX_PAGES = 50


@dataclass(frozen=True)
class PollResult:
    """What one poll did. `skipped` means the Chargebee API is not configured."""

    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    last_seen: datetime | None = None
    skipped: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "fetched": self.fetched, "stored": self.stored, "duplicates": self.duplicates,
            "rejected": self.rejected, "skipped": self.skipped,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
        }


def poll_chargebee_events(
    *, api: ChargebeeApi | None = None, now: datetime | None = None,
    lookback: timedelta | None = None, max_pages: int = DEFAULT_MAX_PAGES,
) -> PollResult:
    """Store every Chargebee event since the last one seen; does nothing when unconfigured.

    Raises ProviderError when Chargebee cannot be read; the position reached so far is kept.
    """
    if api is None:
        if not api_configured():
            return PollResult(skipped=True)
        api = api_from_settings()
    now = now or timezone.now()
    if lookback is None:
        lookback = timedelta(hours=settings.SUBSYNC_CHARGEBEE_POLL_LOOKBACK_HOURS)
    cursor, _ = Cursor.objects.get_or_create(provider=PROVIDER, name=CURSOR_NAME)
    last_seen = _position(cursor)
    after = last_seen - timedelta(seconds=1) if last_seen else now - lookback

    fetched = stored = duplicates = rejected = 0
    offset: str | None = None
    for _ in range(max_pages):
        try:
            page = api.list_events_page(occurred_after=after, offset=offset)
        except ChargebeeApiError as exc:
            raise ProviderError(exc.message, permanent=exc.permanent,
                                retry_after=exc.retry_after) from exc
        newest: datetime | None = None
        for raw in page.items:
            outcome, occurred_at = _store(raw)
            fetched += 1
            stored += outcome == "stored"
            duplicates += outcome == "duplicate"
            rejected += outcome == "rejected"
            if occurred_at is not None and (newest is None or occurred_at > newest):
                newest = occurred_at
        if newest is not None:
            last_seen = _advance(cursor_pk=cursor.pk, seen=newest, fetched=len(page.items))
        if not page.next_offset:
            break
        offset = page.next_offset
    result = PollResult(fetched=fetched, stored=stored, duplicates=duplicates,
                        rejected=rejected, last_seen=last_seen)
    if stored or rejected:
        log.info("chargebee events polled", extra=result.as_dict())
    return result


def _store(raw: dict[str, Any]) -> tuple[str, datetime | None]:
    """Store one listed event like the webhook would; returns (outcome, occurred_at)."""
    body = json.dumps(raw, separators=(",", ":"))
    try:
        envelope = read_envelope(event=raw)
    except ChargebeeEventError as exc:
        # Kept as rejected, as the webhook does. Its own id (when it has one) keeps the next
        # poll's overlap from storing it again; the body changes between listings
        # (`webhook_status`), so a digest would not.
        event_id = best_effort_id(body.encode()) or f"rejected:{payload_digest(body)}"
        result = store_event(
            provider=PROVIDER, event_id=event_id, event_type=best_effort_type(body.encode()),
            body=body, occurred_at=_occurred_at(raw), source=WebhookEvent.Source.POLL,
            rejected_error=str(exc),
        )
        return ("rejected" if result.created else "duplicate"), _occurred_at(raw)
    result = store_event(
        provider=PROVIDER, event_id=envelope.event_id, event_type=envelope.event_type,
        body=body, occurred_at=envelope.occurred_at, source=WebhookEvent.Source.POLL,
    )
    return ("stored" if result.created else "duplicate"), envelope.occurred_at


def _occurred_at(raw: dict[str, Any]) -> datetime | None:
    value = raw.get("occurred_at")
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def _position(cursor: Cursor) -> datetime | None:
    if not cursor.position:
        return None
    try:
        return datetime.fromisoformat(cursor.position)
    except ValueError:
        log.warning("chargebee poll cursor unreadable; starting from the look-back window",
                    extra={"position": cursor.position})
        return None


def _advance(*, cursor_pk: int, seen: datetime, fetched: int) -> datetime:
    """Move the position forward to `seen` (never back: two polls may overlap)."""
    with transaction.atomic():
        cursor = Cursor.objects.select_for_update().get(pk=cursor_pk)
        current = _position(cursor)
        if current is None or seen > current:
            cursor.position = seen.astimezone(UTC).isoformat()
            current = seen
        cursor.count += fetched
        cursor.save()
    return current
