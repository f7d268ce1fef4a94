"""Webhook events: the stored deliveries, filtered; one with its body; replay."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from billing.models import WebhookEvent
from billing.selectors.events import (
    EventFilters,
    event_counts_by_status,
    event_detail,
    list_events,
)
from billing.services.replay import replay_event
from billing.services.retention import mark_seen
from dashboard.access import REPLAY_EVENTS, action, log_action, staff_required
from dashboard.views.common import PROVIDERS, filters_and_page, handles_bad_query

TITLE = "Webhook events"


@staff_required
@handles_bad_query
def event_list(request):
    filters, page_request = filters_and_page(request, EventFilters.from_query, title=TITLE)
    page = list_events(filters=filters, page=page_request)
    return render(request, "dashboard/events.html", {
        "filters": filters, "page": page,
        "counts": event_counts_by_status(filters=filters),
        "providers": PROVIDERS,
        "any_events": page.total or WebhookEvent.objects.exists(),
    })


@staff_required
def event_page(request, pk: int):
    detail = event_detail(pk=pk)
    if detail is None:
        raise Http404("No such webhook event.")
    # An operator has looked: a failed or rejected event may now be pruned in time.
    mark_seen(event_ids=[pk])
    return render(request, "dashboard/event_detail.html", {
        "detail": detail, "event": detail.event,
        "can_replay": request.user.has_perm(REPLAY_EVENTS),
    })


@action(REPLAY_EVENTS)
def replay(request, pk: int):
    event = get_object_or_404(WebhookEvent, pk=pk)
    # A `processing` event goes on to replay_event, which takes it only if its worker's
    # lease ran out (a dead worker) and otherwise says a worker has it.
    if event.status == WebhookEvent.State.RECEIVED:
        messages.info(request, f"Event {event.event_id} is already waiting to be processed "
                               f"({event.status}); nothing to replay.")
        return redirect("dashboard:event", pk=pk)
    outcome = replay_event(event=event)
    log_action(request, "replay_event", event=event.pk, event_id=event.event_id,
               previous_status=outcome.previous_status, status=outcome.status)
    if outcome.error:
        messages.warning(request, f"Event {event.event_id} was not replayed: {outcome.error}.")
    else:
        messages.success(request, f"Event {event.event_id} ({outcome.previous_status}) was "
                                  "handed to the worker again; refresh to see the result.")
    return redirect("dashboard:event", pk=pk)
