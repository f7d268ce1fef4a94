"""With SECURE_SSL_REDIRECT on, webhook POSTs over plain HTTP are refused with a 403 that says
why, through the served application (the fast path) and the Django views alike; other
methods on the webhook paths get the same host check and security headers as any page."""

from __future__ import annotations

import io

import pytest
from django.test import Client

from billing.models import WebhookEvent
from billing.webhooks.transport import PLAIN_HTTP_REFUSED
from subsync.wsgi import application

pytestmark = pytest.mark.django_db(transaction=True)

PATHS = ("/webhooks/chargebee/", "/webhooks/braintree/")


def call(method: str, path: str, *, scheme: str = "http", extra: dict | None = None):
    """`application` called as a WSGI server would: (status code, headers, body)."""
    body = b"{}"
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "HTTP_HOST": "localhost",
        "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": scheme, "wsgi.errors": io.StringIO(), "wsgi.multithread": True,
        "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
        **(extra or {}),
    }
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"] = int(status.split()[0])
        seen["headers"] = {name.lower(): value for name, value in headers}

    content = b"".join(application(environ, start_response))
    return seen["status"], seen["headers"], content


@pytest.mark.parametrize("path", PATHS)
def test_plain_http_posts_are_refused_when_https_is_required(settings, path):
    settings.SECURE_SSL_REDIRECT = True
    status, _headers, content = call("POST", path)
    assert status == 403
    assert PLAIN_HTTP_REFUSED.encode() in content
    response = Client().post(path, b"{}", content_type="application/json")
    assert response.status_code == 403
    assert response.json() == {"error": PLAIN_HTTP_REFUSED}
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("path", PATHS)
def test_https_posts_reach_the_receiver(settings, path):
    """Over HTTPS (here or at a trusted proxy) the receiver answers: unauthenticated, 401/403
    for the provider's credentials, not for the transport."""
    settings.SECURE_SSL_REDIRECT = True
    status, _headers, content = call("POST", path, scheme="https")
    assert status in (401, 403)
    assert PLAIN_HTTP_REFUSED.encode() not in content
    settings.SUBSYNC_BEHIND_PROXY = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    status, _headers, content = call("POST", path, extra={"HTTP_X_FORWARDED_PROTO": "https"})
    assert status in (401, 403)
    assert PLAIN_HTTP_REFUSED.encode() not in content


def test_a_forwarded_proto_header_is_not_trusted_without_a_proxy(settings):
    settings.SECURE_SSL_REDIRECT = True
    assert settings.SECURE_PROXY_SSL_HEADER is None
    status, _headers, content = call("POST", PATHS[0], extra={"HTTP_X_FORWARDED_PROTO": "https"})
    assert status == 403
    assert PLAIN_HTTP_REFUSED.encode() in content


def test_plain_http_is_accepted_when_https_is_not_required(settings):
    settings.SECURE_SSL_REDIRECT = False
    status, _headers, _content = call("POST", PATHS[0])
    assert status == 401


@pytest.mark.parametrize("path", PATHS)
def test_other_methods_get_the_host_check_and_security_headers(path):
    status, headers, _content = call("GET", path)
    assert status == 405
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert "default-src 'self'" in headers["content-security-policy"]
    status, _headers, _content = call("GET", path, extra={"HTTP_HOST": "evil.example"})
    assert status == 400
