"""Replaying stored events: run the processing of events we already hold once more.

When a bug in a parser or a Salesforce outage left events `failed`, the fix is to process them
again, not to ask the provider to resend (Chargebee stops after three days, Braintree after
one). The raw body is on the row, so a replay resets it to `received` and sends it down the
same path as a fresh delivery: the ordering rule makes replays of old events harmless.

`rejected` events (authenticated, but unusable as sent) are never picked by filters: replaying
them is only useful after a code change for that very body, so it takes naming them by id.
A `processing` event is replayed only once its worker's lease ran out (the worker died).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet

from billing.models import WebhookEvent
from billing.services.intake import announce_on_commit
from billing.services.processing import EventProcessingError, lease_expired, process_event

State = WebhookEvent.State


class ReplayError(ValueError):
    """The requested selection is not allowed (it would replay rejected events by filter)."""


def select_for_replay(
    *, provider: str | None = None, statuses: Sequence[str] = (), since: datetime | None = None,
    event_ids: Sequence[str] = (),
) -> QuerySet[WebhookEvent]:
    """The events a replay would touch, oldest first.

    Without `event_ids` or `statuses`, that is the failed ones. `rejected` is only included for
    events named in `event_ids`.
    """
    if State.REJECTED in statuses and not event_ids:
        raise ReplayError("rejected events are only replayed when named with --id")
    events = WebhookEvent.objects.all()
    if provider:
        events = events.filter(provider=provider)
    if event_ids:
        events = events.filter(event_id__in=list(event_ids))
    if statuses:
        events = events.filter(status__in=list(statuses))
    elif not event_ids:
        events = events.filter(status=State.FAILED)
    if not event_ids:
        events = events.exclude(status=State.REJECTED)
    if since is not None:
        events = events.filter(received_at__gte=since)
    return events.order_by("occurred_at", "received_at", "pk")


@dataclass(frozen=True)
class ReplayOutcome:
    event: WebhookEvent
    previous_status: str
    status: str  # `received` (enqueued), the processing result (inline), or unchanged
    error: str = ""


def replay_event(*, event: WebhookEvent, inline: bool = False) -> ReplayOutcome:
    """Reset `event` to `received` and announce it to the drain (which takes it in a batch,
    like a fresh delivery), or with `inline` process it right here.

    Its attempt count starts again, so a replayed event gets the full retry policy. An event
    whose status changed since it was selected (a worker got to it) is left alone.
    """
    previous = event.status
    unchanged = WebhookEvent.objects.filter(pk=event.pk, status=previous)
    if previous == State.PROCESSING:
        # Only once its worker's lease ran out (the worker died): before that, a reset
        # would race a worker that is still applying it.
        unchanged = unchanged.filter(lease_expired())
    with transaction.atomic():
        reset = unchanged.update(status=State.RECEIVED, attempts=0)
        if reset and not inline:
            announce_on_commit(event.pk)
    if not reset:
        current = WebhookEvent.objects.values_list("status", flat=True).get(pk=event.pk)
        error = ("a worker is processing it now; left alone" if current == previous
                 else "changed while selected; left alone")
        return ReplayOutcome(event=event, previous_status=previous, status=current,
                             error=error)
    if not inline:
        return ReplayOutcome(event=event, previous_status=previous, status=State.RECEIVED)
    try:
        status = process_event(event_id=event.pk)
    except EventProcessingError as exc:
        return ReplayOutcome(event=event, previous_status=previous, status=State.FAILED,
                             error=str(exc))
    return ReplayOutcome(event=event, previous_status=previous, status=status)
