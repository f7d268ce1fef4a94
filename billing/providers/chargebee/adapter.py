"""Chargebee behind the provider interface used by the event pipeline."""

from __future__ import annotations

from django.conf import settings

from billing.normalized import ParsedEvent
from billing.providers.base import ProviderAdapter, ProviderError
from billing.providers.chargebee.client import api_configured, api_from_settings
from billing.providers.chargebee.coupons import CachedCoupons
from billing.providers.chargebee.errors import ChargebeeApiError, ChargebeeEventError
from billing.providers.chargebee.parse import parse_event
from billing.providers.chargebee.verify import verified_body


def coupon_lookup() -> CachedCoupons | None:
    """Catalog 1.0 coupon terms through the API and the shared cache, when the API is
    configured (else coupons a subscription only names count 0)."""
    return CachedCoupons(api=api_from_settings) if api_configured() else None


class ChargebeeAdapter(ProviderAdapter):
    name = "chargebee"

    def parse_event(self, *, event_type: str, body: str) -> ParsedEvent:
        try:
            if settings.CHARGEBEE_VERIFY_EVENTS:
                body = verified_body(body=body, api=api_from_settings())
            return parse_event(event=body, coupons=coupon_lookup())
        except ChargebeeEventError as exc:
            # Bad data stays bad: no retry, the message goes on the event row.
            raise ProviderError(str(exc), permanent=True) from exc
        except ChargebeeApiError as exc:
            # A coupon look-up failed: retried unless Chargebee said it never will work.
            raise ProviderError(str(exc), permanent=exc.permanent,
                                retry_after=exc.retry_after) from exc
