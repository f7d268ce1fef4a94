"""Nothing a sender posts to the webhooks produces a 500 (property test over arbitrary bytes).

Chargebee requests carry valid credentials, so the bytes reach the body checks; Braintree
requests carry arbitrary payloads and signatures, well-formed or not.
"""

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.braintree.subscriptions import Keys
from tests.support.braintree_app import configure

pytestmark = pytest.mark.django_db
AUTH = "Basic " + base64.b64encode(b"hooks:pass").decode()
CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=st.binary(max_size=400), content_type=st.sampled_from(CONTENT_TYPES))
def test_arbitrary_bodies_never_cause_a_server_error(client, settings, sent, body, content_type):
    settings.CHARGEBEE_WEBHOOK_USERNAME = "hooks"
    settings.CHARGEBEE_WEBHOOK_PASSWORD = "pass"
    configure(settings, keys=Keys())
    requests = [
        ("/webhooks/chargebee/", body, content_type, {"HTTP_AUTHORIZATION": AUTH}),
        ("/webhooks/braintree/", body, content_type, {}),
        ("/webhooks/braintree/", b"bt_signature=abc&bt_payload=" + body,
         "application/x-www-form-urlencoded", {}),
        ("/webhooks/braintree/", b"bt_payload=%ff%fe&bt_signature=" + body,
         "application/x-www-form-urlencoded", {}),
    ]
    for path, data, ctype, extra in requests:
        response = client.post(path, data=data, content_type=ctype, **extra)
        assert response.status_code in (200, 400, 401, 403, 413), (path, data, response.content)


def test_nul_characters_and_overlong_ids_are_stored_not_a_server_error(client, settings, sent):
    """PostgreSQL text cannot hold NUL: such deliveries are still stored, NUL made visible."""
    import json

    from billing.models import WebhookEvent
    from emulator.chargebee.events import make_event

    settings.CHARGEBEE_WEBHOOK_USERNAME = "hooks"
    settings.CHARGEBEE_WEBHOOK_PASSWORD = "pass"
    nul_id = make_event("subscription_created", event_id="ev_\u0000_nul")
    long_id = make_event("subscription_created", event_id="ev_" + "x" * 400)
    for body in (b"\x00not json", json.dumps(nul_id).encode(), json.dumps(long_id).encode()):
        response = client.post("/webhooks/chargebee/", data=body,
                               content_type="application/json", HTTP_AUTHORIZATION=AUTH)
        assert response.status_code in (200, 400), response.content
    ids = set(WebhookEvent.objects.values_list("event_id", flat=True))
    assert "ev_\ufffd_nul" in ids
    assert any(event_id.startswith("sha256:") for event_id in ids)
    assert WebhookEvent.objects.filter(status="rejected", body__startswith="\ufffd").exists()
