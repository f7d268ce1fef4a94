"""The ChargebeeApi configured from Django settings, for the backfill and event polling.

Both jobs need the same three settings and must fail the same clear way when they are missing
(a backfill run by hand says what to set; the periodic poller quietly does nothing), so the
construction lives here instead of in each caller. (Braintree's counterpart is
billing.providers.braintree.client.)
"""

from __future__ import annotations

from django.conf import settings

from billing.providers.base import ProviderError
from billing.providers.chargebee.api import ChargebeeApi

NOT_CONFIGURED = (
    "the Chargebee API is not configured: set CHARGEBEE_SITE and CHARGEBEE_API_KEY "
    "(and CHARGEBEE_API_URL only to reach a proxy or a test server)"
)


def api_configured() -> bool:
    """True when the settings name a site and an API key."""
    return bool(settings.CHARGEBEE_SITE and settings.CHARGEBEE_API_KEY)


def api_from_settings(**options) -> ChargebeeApi:
    """A client for CHARGEBEE_SITE / CHARGEBEE_API_KEY (/ CHARGEBEE_API_URL).

    `options` go to ChargebeeApi (timeouts, rate-limit handling). Raises a permanent
    ProviderError naming the missing settings, or a bad CHARGEBEE_API_URL.
    """
    if not api_configured():
        raise ProviderError(NOT_CONFIGURED, permanent=True)
    try:
        return ChargebeeApi(
            settings.CHARGEBEE_SITE, settings.CHARGEBEE_API_KEY,
            api_url=settings.CHARGEBEE_API_URL or None, **options,
        )
    except ValueError as exc:
        raise ProviderError(str(exc), permanent=True) from exc
