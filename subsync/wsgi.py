"""WSGI entry point: provider webhooks take a short path, everything else Django's full one.

Webhook deliveries are the one high-volume traffic, and a provider waits for each answer.
They need none of the middleware: sessions, CSRF, login, messages and clickjacking headers
are for browsers, and the webhook receivers authenticate the provider themselves. Nor do they
need an HttpRequest, URL resolution or a JsonResponse: a POST to one of the exact webhook
paths goes straight to its receiver (billing.webhooks.delivery), which was about half of a
delivery's CPU time less than Django's full handler. The request signals are still sent, so
database connections are recycled as after any request (CONN_MAX_AGE, health checks), and
the Host header is checked against ALLOWED_HOSTS as the full stack would. (SECURE_SSL_REDIRECT
is not applied: a provider does not follow a redirect of its POST; serve webhooks over HTTPS.)
Any other method on those paths is answered by Django's handler without middleware (405), and
any other path, including any variant of these, goes through the full chain.
"""

import logging
import os
from http import HTTPStatus

from django.core import signals
from django.core.exceptions import DisallowedHost
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "subsync.settings")

WEBHOOK_URL_NAMES = ("chargebee-webhook", "braintree-webhook")
log = logging.getLogger("subsync.webhooks")


class WebhookHandler(WSGIHandler):
    """Django's WSGI handler with no middleware."""

    def load_middleware(self, is_async=False):
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(self._get_response)


def serve_delivery(receive, environ, start_response):
    """Answer one webhook POST with its receiver, as a WSGI application.

    An unexpected exception (a bug, the database down) is logged and answered 500 in JSON, so
    the provider retries; the receiver stores the row in one statement, so nothing is half
    written.
    """
    from billing.webhooks.delivery import Answer, Delivery

    signals.request_started.send(sender=WebhookHandler, environ=environ)
    try:
        if host_allowed(environ):
            answer = receive(Delivery.from_environ(environ))
        else:
            answer = Answer(400, {"error": "host not allowed (ALLOWED_HOSTS)"})
    except Exception:
        log.exception("webhook delivery failed", extra={"path": environ.get("PATH_INFO")})
        answer = Answer(500, {"error": "internal error: not stored, please retry"})
    finally:
        signals.request_finished.send(sender=WebhookHandler)
    content = answer.content()
    start_response(f"{answer.status} {HTTPStatus(answer.status).phrase}",
                   answer.wsgi_headers(content))
    return [content]


def host_allowed(environ) -> bool:
    """Django's own ALLOWED_HOSTS check (X-Forwarded-Host and DEBUG rules included), which
    the full stack makes in CommonMiddleware; logged as Django logs it."""
    request = HttpRequest()
    request.META = environ
    try:
        request.get_host()
    except DisallowedHost as exc:
        logging.getLogger("django.security.DisallowedHost").warning(str(exc))
        return False
    return True


def build_application():
    from django.urls import resolve, reverse

    full = get_wsgi_application()  # sets Django up
    webhooks = WebhookHandler()
    receivers = {}
    for name in WEBHOOK_URL_NAMES:
        path = reverse(name)
        receivers[path] = resolve(path).func.receive

    def application(environ, start_response):
        path = environ.get("PATH_INFO")
        if path not in receivers:
            return full(environ, start_response)
        if environ.get("REQUEST_METHOD") == "POST":
            return serve_delivery(receivers[path], environ, start_response)
        return webhooks(environ, start_response)

    application.short_paths = frozenset(receivers)
    return application


application = build_application()
