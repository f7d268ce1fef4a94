"""Over which connections a webhook delivery is taken.

With SECURE_SSL_REDIRECT on, the operator has said that this app is served over HTTPS. A
browser's plain-HTTP request is then redirected; a provider's webhook POST must not be: a
provider does not follow a redirect of its POST, and the delivery (its credentials, the
customer data in its body) has already crossed the network in clear. It is refused with a
403 that names the reason, so the provider's delivery log says what to fix (the https URL).

Whether a request is HTTPS is Django's own answer (HttpRequest.is_secure), which honours
SECURE_PROXY_SSL_HEADER when a proxy ends TLS (SUBSYNC_BEHIND_PROXY).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from billing.webhooks.delivery import Answer

PLAIN_HTTP_REFUSED = ("webhooks are accepted over HTTPS only (SECURE_SSL_REDIRECT is on): "
                      "use the https:// URL")


def refuse_plain_http(request: HttpRequest) -> Answer | None:
    """The 403 answer for a delivery over plain HTTP when HTTPS is required, else None."""
    if settings.SECURE_SSL_REDIRECT and not request.is_secure():
        return Answer(403, {"error": PLAIN_HTTP_REFUSED})
    return None
