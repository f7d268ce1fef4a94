"""billing.webhooks.fast_path, as served: `subsync.wsgi:application`. A POST to an exact
webhook path skips the middleware; everything else runs Django's full stack.

The application is called as a WSGI server would call it, with hand-built environs. It is
Django's real handler, which uses the database connection outside any test transaction (and
recycles it on the request signals), so these tests run with transaction=True. They pin what
the fast path keeps of the full stack (request signals and the connection recycling they
drive, the ALLOWED_HOSTS check, the answers), so a Django upgrade that changes any of it
fails here.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import sys
import time

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import get_internal_wsgi_application
from django.db import connection
from django.test import Client

from billing.models import WebhookEvent
from billing.providers.braintree.parse import dedupe_key
from billing.services import intake
from billing.webhooks import chargebee
from billing.webhooks.common import MAX_BODY_BYTES
from billing.webhooks.fast_path import WebhookFastPath
from emulator.braintree.notifications import sample_notification
from emulator.braintree.subscriptions import Keys
from emulator.chargebee.events import make_event
from subsync.wsgi import application
from tests.support.braintree_app import FORM, configure, form_body

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
    monkeypatch.setattr(intake, "announce", calls.append)
    return calls


class Answer:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes):
        self.status_code = int(status.split(" ", 1)[0])
        self.header_list = list(headers)
        self.headers = {name.lower(): value for name, value in headers}
        self.body = body

    def json(self):
        return json.loads(self.body)


def call(method: str, path: str, body: bytes = b"", *, content_type: str = "application/json",
         auth: str | None = None, extra: dict | None = None) -> Answer:
    """Call `application` as a WSGI server would; `extra` adds or replaces environ keys
    (request headers as HTTP_*, a declared CONTENT_LENGTH, another wsgi.input)."""
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
    environ.update(extra or {})
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


def test_fast_paths_are_exactly_the_two_webhooks():
    assert application.fast_paths == {"/webhooks/chargebee/", "/webhooks/braintree/"}


def test_the_served_application_is_djangos_handler_behind_the_fast_path():
    """`subsync.wsgi:application` (servers, WSGI_APPLICATION for runserver) wraps Django's
    own WSGI handler: it is not a subclass, nothing of Django's handler is overridden."""
    assert get_internal_wsgi_application() is application
    assert type(application) is WebhookFastPath
    assert type(application.django_app) is WSGIHandler


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


def test_redelivery_through_the_fast_path_is_a_duplicate(announced):
    first = call("POST", WEBHOOK, delivery("ev_wsgi_dup"), auth=basic())
    again = call("POST", WEBHOOK, delivery("ev_wsgi_dup"), auth=basic())

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["status"] == "duplicate"
    assert WebhookEvent.objects.count() == 1
    assert len(announced) == 1


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT"])
def test_other_methods_on_the_webhook_take_the_full_stack_and_get_405(method):
    answer = call(method, WEBHOOK)

    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert answer.headers["x-frame-options"] == "DENY"  # the middleware ran
    assert not WebhookEvent.objects.exists()


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
    """CommonMiddleware's APPEND_SLASH answers it: proof the chain ran (the fast path has no
    middleware and would have answered the webhook view's 200, or a bare 404)."""
    answer = call("POST", "/webhooks/chargebee", delivery(), auth=basic())

    assert answer.status_code == 301
    assert answer.headers["location"] == "/webhooks/chargebee/"
    # SecurityMiddleware (outermost) marks every answer of the chain.
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert not WebhookEvent.objects.exists()


# -- the fast path, in detail ----------------------------------------------------------------

BRAINTREE = "/webhooks/braintree/"
INTERNAL_ERROR = {"error": "internal error: not stored, please retry"}


@pytest.fixture
def request_signals():
    """What Django's request_started / request_finished signals were sent with, in order."""
    seen: list[tuple[str, object, dict]] = []

    def on_started(sender, **kwargs):
        seen.append(("started", sender, kwargs))

    def on_finished(sender, **kwargs):
        seen.append(("finished", sender, kwargs))

    signals.request_started.connect(on_started, weak=False, dispatch_uid="test_wsgi.started")
    signals.request_finished.connect(on_finished, weak=False, dispatch_uid="test_wsgi.finished")
    try:
        yield seen
    finally:
        signals.request_started.disconnect(dispatch_uid="test_wsgi.started")
        signals.request_finished.disconnect(dispatch_uid="test_wsgi.finished")


def assert_json_answer(answer: Answer) -> None:
    """Content-Type JSON and exactly one Content-Length, equal to the body's length."""
    assert answer.headers["content-type"] == "application/json"
    lengths = [value for name, value in answer.header_list if name.lower() == "content-length"]
    assert lengths == [str(len(answer.body))]


class Unreadable:
    """A wsgi.input that fails the test if anything reads it."""

    def read(self, *args):
        raise AssertionError("the body was read")

    readline = read


def test_braintree_notification_through_the_fast_path_is_stored(settings, announced):
    configure(settings, keys=Keys(), gateway_url="http://127.0.0.1:9")  # nothing listens
    kind = "subscription_charged_successfully"
    form = sample_notification(kind, keys=Keys(), subject_id="wsgi_sub")
    body = form_body(form).encode()

    answer = call("POST", BRAINTREE, body, content_type=FORM)

    assert answer.status_code == 200, answer.body
    event_id = dedupe_key(payload=form["bt_payload"])
    assert answer.json() == {"status": "accepted", "event": event_id}
    assert_json_answer(answer)
    assert "x-frame-options" not in answer.headers  # no middleware ran
    row = WebhookEvent.objects.get()
    assert (row.provider, row.event_id, row.event_type, row.status, row.source) == (
        "braintree", event_id, kind, "received", "webhook")
    assert row.body == form_body(form)
    assert row.occurred_at is not None
    assert row.headers["Content-Type"] == FORM
    assert announced == [row.pk]


def test_badly_signed_braintree_notification_through_the_fast_path_is_403(settings):
    configure(settings, keys=Keys())
    form = sample_notification("check", keys=Keys(private_key="another_private_key"))

    answer = call("POST", BRAINTREE, form_body(form).encode(), content_type=FORM)

    assert answer.status_code == 403, answer.body
    assert_json_answer(answer)
    assert not WebhookEvent.objects.exists()


def test_receiver_exception_is_logged_and_answered_500_in_json(monkeypatch, caplog,
                                                               request_signals, announced):
    def broken_store_event(**kwargs):
        raise RuntimeError("database said no (secret detail)")

    monkeypatch.setattr(chargebee, "store_event", broken_store_event)

    with caplog.at_level(logging.ERROR, logger="subsync.webhooks"):
        answer = call("POST", WEBHOOK, delivery("ev_wsgi_boom"), auth=basic())

    assert answer.status_code == 500
    assert answer.json() == INTERNAL_ERROR
    assert_json_answer(answer)
    assert b"secret detail" not in answer.body  # the cause is logged, never answered
    logged = [r for r in caplog.records if r.name == "subsync.webhooks"]
    assert len(logged) == 1
    record, = logged
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    assert "secret detail" in str(record.exc_info[1])
    assert record.path == WEBHOOK
    assert not WebhookEvent.objects.exists()
    assert announced == []
    assert [name for name, _, _ in request_signals] == ["started", "finished"]


def test_each_fast_path_post_sends_request_started_and_finished_once(request_signals):
    first = call("POST", WEBHOOK, delivery("ev_wsgi_sig_1"), auth=basic())
    second = call("POST", WEBHOOK, delivery("ev_wsgi_sig_2"), auth=basic())

    assert (first.status_code, second.status_code) == (200, 200)
    assert [name for name, _, _ in request_signals] == [
        "started", "finished", "started", "finished"]
    assert {sender for _, sender, _ in request_signals} == {WebhookFastPath}
    started = [kwargs["environ"] for name, _, kwargs in request_signals if name == "started"]
    assert [environ["PATH_INFO"] for environ in started] == [WEBHOOK, WEBHOOK]
    assert started[0] is not started[1]  # each request's own environ
    assert WebhookEvent.objects.count() == 2


def test_fast_path_stores_the_same_headers_as_the_django_view():
    """The same request, once through the fast path and once through Django's test client
    (full middleware chain and the Django view), stores identical header dicts.

    Both requests carry the same headers: Host (call() sends one as a real server does; the
    test client only sends it when given), Content-Type, Content-Length (the two bodies differ
    only in event ids of equal length), User-Agent and a Chargebee-style custom header, plus
    Authorization. The test client adds one header by itself, an empty Cookie, which is never
    stored (like Authorization), so the stored dicts can be compared exactly.
    """
    sent_headers = {"User-Agent": "ChargeBee-Webhook/2.0", "X-Chargebee-Webhook-Id": "wh_77"}
    short_body, view_body = delivery("ev_hdr_wsgi"), delivery("ev_hdr_view")
    assert len(short_body) == len(view_body)

    short = call("POST", WEBHOOK, short_body, auth=basic(), extra={
        "HTTP_USER_AGENT": sent_headers["User-Agent"],
        "HTTP_X_CHARGEBEE_WEBHOOK_ID": sent_headers["X-Chargebee-Webhook-Id"]})
    view = Client().post(WEBHOOK, data=view_body, content_type="application/json",
                         headers={**sent_headers, "Host": "testserver",
                                  "Authorization": basic()})

    assert (short.status_code, view.status_code) == (200, 200), (short.body, view.content)
    via_short = WebhookEvent.objects.get(event_id="ev_hdr_wsgi").headers
    via_view = WebhookEvent.objects.get(event_id="ev_hdr_view").headers
    expected = {**sent_headers, "Host": "testserver", "Content-Type": "application/json",
                "Content-Length": str(len(short_body))}
    assert via_short == expected
    assert via_view == expected
    assert "Authorization" not in via_short and "Cookie" not in via_view


@pytest.mark.parametrize(("size", "status"), [(MAX_BODY_BYTES, 200), (MAX_BODY_BYTES + 1, 413)])
def test_body_size_cap_on_the_fast_path(size, status):
    """A body of exactly 1 MiB is taken; one byte more is refused and nothing is stored."""
    event = make_event("subscription_created", event_id="ev_wsgi_big")
    event["padding"] = ""
    room = size - len(json.dumps(event).encode())
    event["padding"] = "x" * room
    body = json.dumps(event).encode()
    assert len(body) == size

    answer = call("POST", WEBHOOK, body, auth=basic())

    assert answer.status_code == status, answer.body[:200]
    assert_json_answer(answer)
    if status == 413:
        assert answer.json() == {"error": "body over 1 MiB"}
        assert not WebhookEvent.objects.exists()
    else:
        assert len(WebhookEvent.objects.get(event_id="ev_wsgi_big").body) == size


@pytest.mark.parametrize("path", [WEBHOOK, BRAINTREE])
def test_declared_length_over_the_cap_is_refused_without_reading_the_body(settings, path):
    configure(settings, keys=Keys())
    answer = call("POST", path, auth=basic(), extra={
        "CONTENT_LENGTH": str(MAX_BODY_BYTES + 1), "wsgi.input": Unreadable()})

    # Reading would raise inside the receiver: a 500, not this 413.
    assert answer.status_code == 413, answer.body
    assert answer.json() == {"error": "body over 1 MiB"}
    assert_json_answer(answer)
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(("auth", "message"), [
    (None, "missing or wrong credentials"),
    (basic(password="wrong"), "missing or wrong credentials"),
    (basic(), "Chargebee webhooks are refused"),  # credentials not configured
])
def test_401_on_the_fast_path_carries_www_authenticate_and_its_length(settings, auth, message):
    if message.startswith("Chargebee webhooks are refused"):
        settings.CHARGEBEE_WEBHOOK_USERNAME = settings.CHARGEBEE_WEBHOOK_PASSWORD = ""

    answer = call("POST", WEBHOOK, delivery(), auth=auth)

    assert answer.status_code == 401
    assert answer.json()["error"].startswith(message)
    assert answer.headers["www-authenticate"] == (
        'Basic realm="subsync webhooks", charset="UTF-8"')
    assert_json_answer(answer)
    assert not WebhookEvent.objects.exists()


def test_a_host_outside_allowed_hosts_is_refused_on_the_fast_path(settings, caplog):
    settings.ALLOWED_HOSTS = ["hooks.example.com"]

    answer = call("POST", WEBHOOK, delivery("ev_wsgi_host"), auth=basic())

    assert answer.status_code == 400
    assert "ALLOWED_HOSTS" in answer.json()["error"]
    assert not WebhookEvent.objects.exists()
    assert any(r.name == "django.security.DisallowedHost" for r in caplog.records)


def test_an_allowed_host_is_served_on_the_fast_path(settings):
    settings.ALLOWED_HOSTS = ["hooks.example.com"]

    answer = call("POST", WEBHOOK, delivery("ev_wsgi_host_ok"), auth=basic(),
                  extra={"HTTP_HOST": "hooks.example.com"})

    assert answer.status_code == 200, answer.body
    assert WebhookEvent.objects.filter(event_id="ev_wsgi_host_ok").exists()


def test_the_request_signals_recycle_the_database_connection(monkeypatch):
    """Sending request_started / request_finished is all the fast path does for connections:
    Django's receivers close one that is past CONN_MAX_AGE, as after any request."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    connection.close()
    connection.ensure_connection()
    connection.close_at = time.monotonic()  # what CONN_MAX_AGE = 0 sets at connect
    real_close, closed = connection.close, []

    def close():
        closed.append(WebhookEvent.objects.using("default").exists())  # after the INSERT?
        real_close()

    monkeypatch.setattr(connection, "close", close)

    answer = call("POST", WEBHOOK, delivery("ev_wsgi_recycled"), auth=basic())

    assert answer.status_code == 200, answer.body
    assert closed and closed[-1] is True  # closed once the row was stored: request_finished
