"""subsync.wsgi.application: the exact webhook paths skip the middleware, all else runs it.

The application is called as a WSGI server would call it, with hand-built environs. It is
Django's real handler, which uses the database connection outside any test transaction (and
recycles it on the request signals), so these tests run with transaction=True.
"""

from __future__ import annotations

import base64
import io
import json
import sys

import pytest

from billing.models import WebhookEvent
from billing.services import events
from subsync.wsgi import application
from tests.support.chargebee.events import make_event

pytestmark = pytest.mark.django_db(transaction=True)

WEBHOOK = "/webhooks/chargebee/"
USER, PASSWORD = "chargebee-hooks", "s3cret-pass"


@pytest.fixture(autouse=True)
def credentials(settings):
    settings.CHARGEBEE_WEBHOOK_USERNAME = USER
    settings.CHARGEBEE_WEBHOOK_PASSWORD = PASSWORD


@pytest.fixture(autouse=True)
def announced(monkeypatch) -> list[int]:
    """No drain is requested: the ids the stored events would have announced."""
    calls: list[int] = []
    monkeypatch.setattr(events, "announce", calls.append)
    return calls


class Answer:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes):
        self.status_code = int(status.split(" ", 1)[0])
        self.headers = {name.lower(): value for name, value in headers}
        self.body = body

    def json(self):
        return json.loads(self.body)


def call(method: str, path: str, body: bytes = b"", *, content_type: str = "application/json",
         auth: str | None = None) -> Answer:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": content_type,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if auth is not None:
        environ["HTTP_AUTHORIZATION"] = auth
    started = []

    def start_response(status, headers, exc_info=None):
        started.append((status, headers))

    result = application(environ, start_response)
    try:
        body_out = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()  # request_finished, as a WSGI server does
    (status, headers), = started
    return Answer(status, headers, body_out)


def basic(user: str = USER, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def delivery(event_id: str = "ev_wsgi_1") -> bytes:
    return json.dumps(make_event("subscription_created", event_id=event_id)).encode()


def test_short_paths_are_exactly_the_two_webhooks():
    assert application.short_paths == {"/webhooks/chargebee/", "/webhooks/braintree/"}


def test_webhook_without_credentials_gets_401_and_no_middleware_ran():
    answer = call("POST", WEBHOOK, delivery())

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Basic")
    assert "missing or wrong credentials" in answer.json()["error"]
    # Headers the middleware chain adds to every answer are absent.
    assert "x-frame-options" not in answer.headers
    assert "x-content-type-options" not in answer.headers
    assert not WebhookEvent.objects.exists()


def test_authenticated_webhook_is_stored_and_answered_200(announced):
    answer = call("POST", WEBHOOK, delivery("ev_wsgi_ok"), auth=basic())

    assert answer.status_code == 200, answer.body
    assert answer.json() == {"status": "accepted", "event": "ev_wsgi_ok"}
    assert "x-frame-options" not in answer.headers
    event = WebhookEvent.objects.get()
    assert (event.provider, event.event_id, event.status) == ("chargebee", "ev_wsgi_ok",
                                                              WebhookEvent.State.RECEIVED)
    assert event.event_type == "subscription_created"
    assert "Authorization" not in event.headers
    assert announced == [event.pk]


def test_redelivery_through_the_short_path_is_a_duplicate(announced):
    first = call("POST", WEBHOOK, delivery("ev_wsgi_dup"), auth=basic())
    again = call("POST", WEBHOOK, delivery("ev_wsgi_dup"), auth=basic())

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["status"] == "duplicate"
    assert WebhookEvent.objects.count() == 1
    assert len(announced) == 1


def test_get_on_the_webhook_is_405():
    answer = call("GET", WEBHOOK)

    assert answer.status_code == 405
    assert "POST" in answer.headers["allow"]
    assert "x-frame-options" not in answer.headers


def test_other_paths_run_the_full_middleware_chain():
    answer = call("GET", "/admin/")

    assert answer.status_code == 302
    assert answer.headers["location"].startswith("/admin/login/")
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/webhooks/chargebee/extra", "/webhooks//chargebee/",
                                  "/WEBHOOKS/chargebee/", "/webhooks/braintree/extra"])
def test_variants_of_a_webhook_path_take_the_full_chain(path):
    answer = call("POST", path, delivery(), auth=basic())

    assert answer.status_code == 404
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert not WebhookEvent.objects.exists()


def test_webhook_path_without_its_slash_takes_the_full_chain():
    """CommonMiddleware's APPEND_SLASH answers it: proof the chain ran (the short path has no
    middleware and would have answered the webhook view's 200, or a bare 404)."""
    answer = call("POST", "/webhooks/chargebee", delivery(), auth=basic())

    assert answer.status_code == 301
    assert answer.headers["location"] == "/webhooks/chargebee/"
    # SecurityMiddleware (outermost) marks every answer of the chain.
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert not WebhookEvent.objects.exists()
