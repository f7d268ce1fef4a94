"""The Braintree gateway built from Django settings, once per process.

The webhook view verifies every delivery with it and the worker's look-ups and the backfill
call the API through it. Building a gateway is cheap but not free (configuration objects, an
HTTP strategy), so it is cached, keyed on the settings values themselves: a test (or a
deployment that reloads settings) that changes a key gets a new gateway, never a stale one.

Missing or invalid settings raise BraintreeNotConfigured, whose message says what to set, so
the view can refuse with it and the configuration selector can show it on the dashboard.
"""

from __future__ import annotations

from functools import lru_cache

import braintree
from django.conf import settings

from .gateway import build_gateway, environment_for

KEY_SETTINGS = ("BRAINTREE_MERCHANT_ID", "BRAINTREE_PUBLIC_KEY", "BRAINTREE_PRIVATE_KEY")


class BraintreeNotConfigured(Exception):
    """Braintree settings are missing or invalid; `settings_to_set` names them."""

    def __init__(self, message: str, *, settings_to_set: tuple[str, ...]):
        super().__init__(message)
        self.settings_to_set = settings_to_set


def configuration_problem() -> BraintreeNotConfigured | None:
    """What is wrong with the Braintree settings, or None when a gateway can be built."""
    missing = tuple(name for name in KEY_SETTINGS if not getattr(settings, name, ""))
    if missing:
        return BraintreeNotConfigured(
            f"Braintree is not configured: set {', '.join(missing)} (the API keys of the "
            "merchant, from the Braintree Control Panel)", settings_to_set=missing,
        )
    try:
        environment_for(environment=settings.BRAINTREE_ENVIRONMENT,
                        gateway_url=settings.BRAINTREE_GATEWAY_URL)
    except ValueError as exc:
        bad = ("BRAINTREE_GATEWAY_URL",) if settings.BRAINTREE_GATEWAY_URL else (
            "BRAINTREE_ENVIRONMENT",)
        return BraintreeNotConfigured(f"Braintree is misconfigured: {exc}", settings_to_set=bad)
    return None


def gateway_from_settings() -> braintree.BraintreeGateway:
    """The process's gateway for the current settings; raises BraintreeNotConfigured."""
    problem = configuration_problem()
    if problem is not None:
        raise problem
    return _gateway(
        settings.BRAINTREE_MERCHANT_ID, settings.BRAINTREE_PUBLIC_KEY,
        settings.BRAINTREE_PRIVATE_KEY, settings.BRAINTREE_ENVIRONMENT,
        settings.BRAINTREE_GATEWAY_URL,
    )


@lru_cache(maxsize=4)
def _gateway(merchant_id: str, public_key: str, private_key: str, environment: str,
             gateway_url: str) -> braintree.BraintreeGateway:
    return build_gateway(merchant_id=merchant_id, public_key=public_key,
                         private_key=private_key, environment=environment,
                         gateway_url=gateway_url)
