"""A rejected but authenticated Chargebee event keeps Chargebee's event id whenever it can be
read, so ops find it by the id Chargebee shows them; a usable delivery of the same event
later takes its row over (issue 15, gap 5)."""

from __future__ import annotations

import hashlib
import json

import pytest

from billing.models import WebhookEvent
from emulator.chargebee.events import make_event
from tests.billing.webhooks.test_chargebee_webhook import basic, credentials, post  # noqa: F401

pytestmark = pytest.mark.django_db


def test_another_api_version_is_kept_under_chargebee_s_event_id(client, sent):
    event = {**make_event("subscription_created", event_id="ev_v1_seen"), "api_version": "v1"}
    response = post(client, event, auth=basic())
    assert response.status_code == 400
    row = WebhookEvent.objects.get()
    assert (row.event_id, row.status, row.event_type) == (
        "ev_v1_seen", "rejected", "subscription_created")


@pytest.mark.parametrize("body", [
    b"{not json",
    json.dumps({k: v for k, v in make_event("subscription_created").items() if k != "id"}),
    json.dumps({**make_event("subscription_created"), "id": 42}),
    json.dumps({**make_event("subscription_created"), "id": "  "}),
], ids=["not-json", "no-id", "id-not-a-string", "id-blank"])
def test_without_a_readable_id_the_digest_of_the_body_is_the_key(client, sent, body):
    raw = body if isinstance(body, bytes) else body.encode()
    post(client, body, auth=basic())
    row = WebhookEvent.objects.get()
    assert row.event_id == "rejected:" + hashlib.sha256(raw).hexdigest()


def test_a_usable_delivery_of_a_rejected_event_takes_its_row_over(
        client, sent, django_capture_on_commit_callbacks):
    good = make_event("subscription_created", event_id="ev_both", subscription_id="sub_7")
    post(client, {**good, "api_version": "v1"}, auth=basic())
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, good, auth=basic())

    assert response.status_code == 200 and response.json()["status"] == "requeued"
    row = WebhookEvent.objects.get()
    assert (row.event_id, row.status, row.error, row.attempts) == ("ev_both", "received", "", 0)
    assert json.loads(row.body)["api_version"] == "v2"
    assert sent == [row.pk]
    # Another unusable copy afterwards changes nothing.
    post(client, {**good, "api_version": "v1"}, auth=basic())
    row.refresh_from_db()
    assert row.status == "received" and json.loads(row.body)["api_version"] == "v2"
