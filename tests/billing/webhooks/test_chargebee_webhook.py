"""POST /webhooks/chargebee/: auth, size and shape checks, storing exactly once."""

from __future__ import annotations

import base64
import json

import pytest
from django.db import connection
from django.test import Client

from billing.models import Subscription, WebhookEvent
from billing.tasks import process_webhook_event
from emulator.chargebee.events import make_event
from tests.support.concurrency import at_once

URL = "/webhooks/chargebee/"
USER, PASSWORD = "chargebee-hooks", "s3cret-pass"

pytestmark = pytest.mark.django_db


def basic(user=USER, password=PASSWORD):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(autouse=True)
def credentials(settings):
    settings.CHARGEBEE_WEBHOOK_USERNAME = USER
    settings.CHARGEBEE_WEBHOOK_PASSWORD = PASSWORD


def post(client, body, auth=None, **extra):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
    return client.post(URL, data=data, content_type="application/json", **headers, **extra)


@pytest.mark.parametrize(
    "auth",
    [None, basic(user="someone"), basic(password="wrong"), "Bearer abc", "Basic !!notbase64",
     "Basic " + base64.b64encode(b"no-colon").decode()],
    ids=["missing", "wrong-user", "wrong-password", "other-scheme", "garbage", "no-colon"],
)
def test_bad_or_missing_credentials_get_401_and_nothing_is_stored(client, auth):
    response = post(client, make_event("subscription_created"), auth=auth)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert not WebhookEvent.objects.exists()


def test_unconfigured_credentials_refuse_everything_and_say_why(client, settings):
    settings.CHARGEBEE_WEBHOOK_PASSWORD = ""
    response = post(client, make_event("subscription_created"), auth=basic(password=""))
    assert response.status_code == 401
    assert "CHARGEBEE_WEBHOOK_PASSWORD" in response.json()["error"]
    assert not WebhookEvent.objects.exists()


def test_body_over_one_mebibyte_is_413(client):
    event = make_event("subscription_created")
    event["padding"] = "x" * (1024 * 1024)
    response = post(client, event, auth=basic())
    assert response.status_code == 413
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        ({**make_event("subscription_created"), "api_version": "v1"}, "v2"),
        ({k: v for k, v in make_event("subscription_created").items() if k != "id"}, "id"),
        ({k: v for k, v in make_event("subscription_created").items() if k != "content"},
         "content"),
        ({k: v for k, v in make_event("subscription_created").items() if k != "occurred_at"},
         "occurred_at"),
    ],
    ids=["not-json", "not-object", "api-v1", "no-id", "no-content", "no-occurred-at"],
)
def test_malformed_authenticated_body_is_400_and_kept_as_rejected(client, sent, body, message):
    response = post(client, body, auth=basic())
    assert response.status_code == 400
    assert message in response.json()["error"]
    row = WebhookEvent.objects.get()
    assert row.status == "rejected" and message in row.error
    assert sent == []


def test_valid_event_is_stored_enqueued_and_processed(
    client, sent, django_capture_on_commit_callbacks
):
    event = make_event("subscription_created", subscription_id="sub_9", mrr=4200)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, event, auth=basic())
    assert response.status_code == 200
    assert response.json() == {"status": "accepted", "event": event["id"]}
    row = WebhookEvent.objects.get()
    assert row.event_type == "subscription_created" and row.status == "received"
    assert "Authorization" not in row.headers
    assert json.loads(row.body) == event
    assert sent == [row.pk]
    process_webhook_event(row.pk)  # the task function, as the worker would run it
    row.refresh_from_db()
    assert row.status == "processed"
    assert Subscription.objects.get(external_id="sub_9").mrr == 4200


def test_duplicate_delivery_is_200_and_not_processed_twice(
    client, sent, django_capture_on_commit_callbacks
):
    event = make_event("subscription_created")
    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, event, auth=basic())
        second = post(client, event, auth=basic())
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["status"] == "duplicate"
    assert WebhookEvent.objects.count() == 1 and len(sent) == 1


def test_get_is_not_allowed(client):
    assert client.get(URL, HTTP_AUTHORIZATION=basic()).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_deliveries_store_one_row(sent):
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent connections: runs on PostgreSQL (CI)")
    event = make_event("subscription_created")
    body = json.dumps(event)

    def deliver():
        response = Client().post(URL, data=body, content_type="application/json",
                                 HTTP_AUTHORIZATION=basic())
        return response.status_code, response.json()["status"]

    statuses = at_once(deliver)
    assert WebhookEvent.objects.count() == 1
    assert sorted(statuses) == [(200, "accepted")] + [(200, "duplicate")] * 7
    assert len(sent) == 1
