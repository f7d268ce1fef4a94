"""POST /webhooks/braintree/: size cap, signature check with our keys, store, 200.

Nothing here calls Braintree: verification is an HMAC with the private key, and every look-up
a notification needs happens later in the worker. Braintree sends no event id, so the SHA-256
of the payload is the dedupe key (a redelivery is byte-identical); the notification timestamp
is the event's occurred_at and, in the worker, its ordering version.

`check` notifications (the Control Panel's "Check URL" button) are stored like any other and
end `ignored` in the worker with the reason "check: Braintree test notification": the event
log then shows that Braintree reached us, which is the point of the button.
"""

from __future__ import annotations

from billing.models import WebhookEvent
from billing.providers.braintree import intake
from billing.providers.braintree.client import BraintreeNotConfigured, gateway_from_settings
from billing.providers.braintree.errors import BraintreeEventError, BraintreeSignatureError
from billing.providers.braintree.parse import dedupe_key, verify_and_read
from billing.services.intake import store_event
from billing.webhooks.common import (
    BodyRefused,
    error,
    keep_rejected,
    read_body,
    request_headers,
    stored,
    webhook_view,
)
from billing.webhooks.delivery import Answer, Delivery


def receive(delivery: Delivery) -> Answer:
    """Verify and store one Braintree notification; never calls Braintree."""
    try:
        gateway = gateway_from_settings()
    except BraintreeNotConfigured as exc:
        # Name the settings, never their values: anyone can call this URL.
        return error(403, "Braintree webhooks are refused: set "
                          + ", ".join(exc.settings_to_set))
    try:
        body = read_body(delivery)
    except BodyRefused as refused:
        return refused.answer()
    form = intake.read_form(body)
    if not form.payload:
        return error(400, "bt_payload is missing")
    if not form.signature:
        return error(403, "bt_signature is missing")
    text = body.decode("utf-8", errors="replace")
    try:
        notification = verify_and_read(gateway, signature=form.signature,
                                       payload=form.payload)
    except BraintreeSignatureError as exc:
        return error(403, str(exc))
    except BraintreeEventError as exc:
        # Signed with our keys but unusable.
        return keep_rejected(delivery, provider="braintree", body=text, message=str(exc),
                             event_id=f"rejected:{dedupe_key(payload=form.payload)}")
    result = store_event(
        provider="braintree", event_id=notification.dedupe_key, event_type=notification.kind,
        body=text, headers=request_headers(delivery), occurred_at=notification.occurred_at,
        source=WebhookEvent.Source.WEBHOOK,
    )
    return stored(result, event_id=notification.dedupe_key)


braintree_webhook = webhook_view(receive)
