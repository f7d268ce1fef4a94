"""POST /webhooks/chargebee/: Basic auth, size and shape checks, store, 200."""

from __future__ import annotations

from django.conf import settings

from billing.models import WebhookEvent
from billing.providers.chargebee import intake
from billing.providers.chargebee.errors import ChargebeeEventError
from billing.providers.chargebee.parse import read_envelope
from billing.services.intake import store_event
from billing.webhooks.common import (
    BodyRefused,
    error,
    keep_rejected,
    payload_digest,
    read_body,
    request_headers,
    stored,
    webhook_view,
)
from billing.webhooks.delivery import Answer, Delivery

NOT_CONFIGURED = (
    "Chargebee webhooks are refused: set CHARGEBEE_WEBHOOK_USERNAME and "
    "CHARGEBEE_WEBHOOK_PASSWORD, and the same credentials on the Chargebee webhook"
)


def _unauthorized(message: str) -> Answer:
    answer = error(401, message)
    answer.headers["WWW-Authenticate"] = 'Basic realm="subsync webhooks", charset="UTF-8"'
    return answer


def receive(delivery: Delivery) -> Answer:
    """Authenticate, check and store one Chargebee delivery; never calls Chargebee."""
    username = settings.CHARGEBEE_WEBHOOK_USERNAME
    password = settings.CHARGEBEE_WEBHOOK_PASSWORD
    if not intake.credentials_configured(username=username, password=password):
        return _unauthorized(NOT_CONFIGURED)
    if not intake.basic_auth_matches(delivery.headers.get("Authorization", ""),
                                     username=username, password=password):
        return _unauthorized("missing or wrong credentials")
    try:
        body = read_body(delivery)
    except BodyRefused as refused:
        return refused.answer()
    text = body.decode("utf-8", errors="replace")
    try:
        envelope = read_envelope(event=body)
    except ChargebeeEventError as exc:
        # Authenticated but unusable: kept under Chargebee's event id when it can be read.
        return keep_rejected(
            delivery, provider="chargebee", body=text, message=str(exc),
            event_id=intake.best_effort_id(body) or f"rejected:{payload_digest(body)}",
            event_type=intake.best_effort_type(body))
    result = store_event(
        provider="chargebee", event_id=envelope.event_id, event_type=envelope.event_type,
        body=text, headers=request_headers(delivery), occurred_at=envelope.occurred_at,
        source=WebhookEvent.Source.WEBHOOK,
    )
    return stored(result, event_id=envelope.event_id)


chargebee_webhook = webhook_view(receive)
