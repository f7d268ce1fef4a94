"""WSGI entry point: provider webhooks take a short path, everything else Django's full one.

Webhook deliveries are the one high-volume traffic, and a provider waits for each answer.
They need none of the middleware: sessions, CSRF, login, messages and clickjacking headers
are for browsers, and the webhook views authenticate the provider themselves. Running the
middleware chain cost about a fifth of a delivery's CPU time, so the exact webhook paths go to
a Django handler without it. It is still Django's handler (URL resolution, request signals,
so database connections are recycled as usual, and exceptions turned into responses);
any other path, including any variant of these, goes through the full chain.
"""

import os

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "subsync.settings")

WEBHOOK_URL_NAMES = ("chargebee-webhook", "braintree-webhook")


class WebhookHandler(WSGIHandler):
    """Django's WSGI handler with no middleware."""

    def load_middleware(self, is_async=False):
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(self._get_response)


def build_application():
    from django.urls import reverse

    full = get_wsgi_application()  # sets Django up
    webhooks = WebhookHandler()
    short_paths = frozenset(reverse(name) for name in WEBHOOK_URL_NAMES)

    def application(environ, start_response):
        handler = webhooks if environ.get("PATH_INFO") in short_paths else full
        return handler(environ, start_response)

    application.short_paths = short_paths
    return application


application = build_application()
