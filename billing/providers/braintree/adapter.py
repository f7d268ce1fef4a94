"""Braintree behind the provider interface used by the event pipeline (in the worker).

The stored body is the form Braintree posted. Its signature was checked when it was received,
so the payload is only decoded here: re-verifying would fail every queued event after a key
rotation. What the notification lacks (currency, customer, plan) comes from the persistent
DatabaseResolver, whose API calls therefore run in the worker, never in the web request.

Errors become ProviderError: bad data is permanent; an API failure is as permanent as
Braintree says; missing keys are transient (setting them fixes the next attempt).
"""

from __future__ import annotations

from collections.abc import Callable

from billing.normalized import ParsedEvent
from billing.providers.base import ProviderAdapter, ProviderError

from .cache import DatabaseResolver
from .client import BraintreeNotConfigured, gateway_from_settings
from .errors import BraintreeApiError, BraintreeEventError
from .intake import payload_from_body
from .parse import decode_payload, normalize_notification
from .resolver import Resolver


def database_resolver() -> Resolver:
    return DatabaseResolver(gateway=gateway_from_settings)


class BraintreeAdapter(ProviderAdapter):
    name = "braintree"

    def __init__(self, *, resolver: Callable[[], Resolver] = database_resolver):
        self._resolver = resolver

    def parse_event(self, *, event_type: str, body: str) -> ParsedEvent:
        try:
            notification = decode_payload(payload=payload_from_body(body))
            return normalize_notification(notification, resolver=self._resolver())
        except BraintreeEventError as exc:
            raise ProviderError(str(exc), permanent=True) from exc
        except BraintreeApiError as exc:
            raise ProviderError(str(exc), permanent=exc.permanent) from exc
        except BraintreeNotConfigured as exc:
            raise ProviderError(str(exc), permanent=False) from exc
