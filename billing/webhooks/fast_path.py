"""The webhook fast path: a WSGI middleware that hands a POST to an exact webhook path
straight to its receiver, and everything else to Django's full handler.

Why: webhook deliveries are the one high-volume traffic, and a provider waits for each answer.
They need none of the middleware (sessions, CSRF, login, messages and clickjacking headers are
for browsers, and the receivers authenticate the provider themselves), nor an HttpRequest, URL
resolution or a JsonResponse: skipping them saved about half of a delivery's CPU time.

What the full stack would do and this still does: Django's request_started and
request_finished signals are sent, so database connections are recycled as after any request
(CONN_MAX_AGE, health checks), and the Host header is checked against ALLOWED_HOSTS with
Django's own check. With SECURE_SSL_REDIRECT on, a POST over plain HTTP is refused (403)
rather than redirected: a provider does not follow a redirect of its POST
(billing.webhooks.transport).

Only public Django API is used (the signals, HttpRequest.get_host, reverse/resolve), and
Django's handler is wrapped, not subclassed, so an upgrade of Django cannot silently change
what this skips. Any other method on these paths (answered 405 by the view), and any other
path, including any variant of these, goes through the full stack. Wired in subsync.wsgi:
`application = WebhookFastPath(get_wsgi_application())`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING

from django.core import signals
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest
from django.urls import resolve, reverse

from billing.webhooks.delivery import Answer, Delivery
from billing.webhooks.transport import refuse_plain_http

if TYPE_CHECKING:  # its module loads the models: this one is imported before Django is set up
    from billing.webhooks.common import Receiver

# The URL names of the webhook views (billing.urls) whose POSTs take the fast path.
WEBHOOK_URL_NAMES = ("chargebee-webhook", "braintree-webhook")
log = logging.getLogger("subsync.webhooks")

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def webhook_receivers() -> dict[str, Receiver]:
    """Each webhook path, as the URLconf has it, and the receiver its view wraps."""
    paths = [reverse(name) for name in WEBHOOK_URL_NAMES]
    return {path: resolve(path).func.receive for path in paths}


class WebhookFastPath:
    """WSGI middleware around Django's application: a POST to one of the exact webhook paths
    (`fast_paths`) goes to its receiver; any other request to `django_app`.

    Built once Django is set up (the URLconf is read here).
    """

    def __init__(self, django_app: WSGIApp) -> None:
        self.django_app = django_app
        self.receivers = webhook_receivers()
        self.fast_paths = frozenset(self.receivers)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        receive = self.receivers.get(environ.get("PATH_INFO"))
        if receive is None or environ.get("REQUEST_METHOD") != "POST":
            return self.django_app(environ, start_response)
        return self.serve_delivery(receive, environ, start_response)

    def serve_delivery(self, receive: Receiver, environ: dict,
                       start_response: Callable) -> list[bytes]:
        """Answer one webhook POST with its receiver, between the request signals.

        An unexpected exception (a bug, the database down) is logged and answered 500 in
        JSON, so the provider retries; the receiver stores the row in one statement, so
        nothing is half written.
        """
        signals.request_started.send(sender=type(self), environ=environ)
        try:
            request = EnvironRequest(environ)
            if not host_allowed(request):
                answer = Answer(400, {"error": "host not allowed (ALLOWED_HOSTS)"})
            else:
                answer = refuse_plain_http(request) or receive(Delivery.from_environ(environ))
        except Exception:
            log.exception("webhook delivery failed", extra={"path": environ.get("PATH_INFO")})
            answer = Answer(500, {"error": "internal error: not stored, please retry"})
        finally:
            signals.request_finished.send(sender=type(self))
        content = answer.content()
        start_response(f"{answer.status} {HTTPStatus(answer.status).phrase}",
                       answer.wsgi_headers(content))
        return [content]


class EnvironRequest(HttpRequest):
    """A bare HttpRequest over a WSGI environ, for Django's own host and HTTPS checks
    (get_host, is_secure); its scheme is the server's, as in Django's WSGIRequest."""

    def __init__(self, environ: dict) -> None:
        super().__init__()
        self.META = environ

    def _get_scheme(self) -> str:
        return self.META.get("wsgi.url_scheme", "http")


def host_allowed(request: HttpRequest) -> bool:
    """Django's own ALLOWED_HOSTS check (X-Forwarded-Host and DEBUG rules included), which
    the full stack makes in CommonMiddleware; logged as Django logs it."""
    try:
        request.get_host()
    except DisallowedHost as exc:
        logging.getLogger("django.security.DisallowedHost").warning(str(exc))
        return False
    return True
