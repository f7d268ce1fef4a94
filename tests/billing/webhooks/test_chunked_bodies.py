"""Webhook POSTs without a Content-Length (Transfer-Encoding: chunked) are read up to the
1 MiB cap when the server marks where the body ends, answered 411 when it cannot, and an
empty body is never stored (issue 15, gap 6). Both ways in: the WSGI fast path
(billing.webhooks.fast_path) and the Django views."""

from __future__ import annotations

import json

import pytest

from billing.models import WebhookEvent
from billing.webhooks.common import MAX_BODY_BYTES
from emulator.braintree.notifications import sample_notification
from emulator.braintree.subscriptions import Keys
from emulator.chargebee.events import make_event
from tests.billing.webhooks.test_fast_path import (  # noqa: F401 - autouse fixtures
    BRAINTREE,
    WEBHOOK,
    announced,
    basic,
    call,
    credentials,
)
from tests.support.braintree_app import FORM, configure, form_body

pytestmark = pytest.mark.django_db(transaction=True)


class Trickle:
    """A server's de-chunked input: the body a few bytes per read, then the end."""

    def __init__(self, data: bytes, step: int = 7000):
        self.data, self.step = data, step

    def read(self, size: int = -1) -> bytes:
        size = self.step if size < 0 else min(size, self.step)
        part, self.data = self.data[:size], self.data[size:]
        return part

    readline = read  # Django wraps every wsgi.input in a LimitedStream, which wants it


def chunked(body: bytes, *, terminated: bool = True) -> dict:
    """The environ of a chunked request: no CONTENT_LENGTH, the Transfer-Encoding header."""
    extra = {"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked",
             "wsgi.input": Trickle(body)}
    if terminated:
        extra["wsgi.input_terminated"] = True
    return extra


def test_a_chunked_chargebee_delivery_is_read_whole_and_stored():
    event = make_event("subscription_created", event_id="ev_chunked")
    raw = json.dumps(event).encode() + b" " * 30_000  # many reads
    answer = call("POST", WEBHOOK, auth=basic(), extra=chunked(raw))

    assert answer.status_code == 200, answer.body
    row = WebhookEvent.objects.get()
    assert row.event_id == "ev_chunked" and row.body == raw.decode()


def test_a_chunked_braintree_delivery_is_stored(settings):
    configure(settings, keys=Keys(), gateway_url="http://127.0.0.1:9")  # nothing listens
    form = sample_notification("subscription_charged_successfully", keys=Keys(),
                               subject_id="chunked_sub")
    body = form_body(form).encode()
    answer = call("POST", BRAINTREE, content_type=FORM, extra=chunked(body))

    assert answer.status_code == 200, answer.body
    assert WebhookEvent.objects.get().body == body.decode()


def test_a_chunked_body_over_the_cap_is_413_and_not_stored():
    event = make_event("subscription_created")
    event["padding"] = "x" * MAX_BODY_BYTES
    answer = call("POST", WEBHOOK, auth=basic(), extra=chunked(json.dumps(event).encode()))

    assert answer.status_code == 413
    assert not WebhookEvent.objects.exists()


def test_a_server_that_cannot_end_a_chunked_body_gets_411_not_an_empty_body():
    raw = json.dumps(make_event("subscription_created")).encode()
    answer = call("POST", WEBHOOK, auth=basic(), extra=chunked(raw, terminated=False))

    assert answer.status_code == 411
    assert "Content-Length" in answer.json()["error"]
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("extra", [
    {"CONTENT_LENGTH": ""},  # neither header: HTTP/1.1 says no body
    {"CONTENT_LENGTH": "0"},
    chunked(b""),
], ids=["no-length", "zero-length", "chunked-empty"])
def test_an_empty_authenticated_body_is_400_and_never_stored(extra):
    answer = call("POST", WEBHOOK, auth=basic(), extra=extra)

    assert answer.status_code == 400
    assert answer.json() == {"error": "empty body"}
    assert not WebhookEvent.objects.exists()


def test_the_django_view_reads_a_chunked_body_too(client):
    """Django itself reads nothing of a body without Content-Length."""
    raw = json.dumps(make_event("subscription_created", event_id="ev_view")).encode()
    response = client.generic("POST", WEBHOOK, b"", content_type="application/json",
                              HTTP_AUTHORIZATION=basic(), **chunked(raw))

    assert response.status_code == 200, response.content
    assert WebhookEvent.objects.get().event_id == "ev_view"
