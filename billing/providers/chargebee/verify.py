"""CHARGEBEE_VERIFY_EVENTS: apply an event only as Chargebee's API has it.

Chargebee's webhook Basic auth is the only proof that a delivery comes from Chargebee: anyone
with the webhook password could post a made-up event. With CHARGEBEE_VERIFY_EVENTS=true, the
worker fetches each event by its id (`GET /api/v2/events/{id}`) before applying it, and applies
the fetched copy, never the delivered body; an id Chargebee does not know is refused (the
event turns `failed`, with the reason). Cost: one API call per applied Chargebee event, counted
against the site's API rate limit (Chargebee's list endpoint can filter by id, but events are
applied one at a time, so they are fetched one at a time too); deliveries are still accepted
at once, the call is made by the worker.
"""

from __future__ import annotations

import json

from billing.providers.chargebee.api import ChargebeeApi
from billing.providers.chargebee.errors import ChargebeeApiError, ChargebeeEventError


def verified_body(*, body: str, api: ChargebeeApi) -> str:
    """The event Chargebee's API returns for the delivered event's id, as JSON text.

    Raises ChargebeeEventError (not retried) when the body names no event id or Chargebee does
    not know the id, ChargebeeApiError for a failed call (retried when transient).
    """
    try:
        event_id = json.loads(body)["id"]
    except (ValueError, KeyError, TypeError):
        raise ChargebeeEventError("the delivery names no event id, so it cannot be verified "
                                  "with Chargebee (CHARGEBEE_VERIFY_EVENTS)") from None
    if not isinstance(event_id, str) or not event_id:
        raise ChargebeeEventError("the delivery's event id is not a string; not verified")
    try:
        fetched = api.retrieve_event(event_id=event_id)
    except ChargebeeApiError as exc:
        if exc.status == 404:
            raise ChargebeeEventError(
                f"Chargebee does not know event {event_id}: not applied "
                "(CHARGEBEE_VERIFY_EVENTS; was the webhook password leaked?)") from None
        raise
    return json.dumps(fetched)
