"""The Braintree client (the SDK's `BraintreeGateway`): built from plain values, and from
Django settings once per process.

Everything talks to Braintree through one gateway object built here, so tests and proxies can
point it at another URL (BRAINTREE_GATEWAY_URL) without touching the callers. The SDK decides
http vs https from the port alone (only "443" means https), so a custom URL gets a small
Environment subclass that takes the scheme from the URL instead.

The webhook view verifies every delivery with the settings' gateway and the worker's look-ups
and the backfill call the API through it. Building a gateway is cheap but not free
(configuration objects, an HTTP strategy), so it is cached, keyed on the settings values
themselves: a test (or a deployment that reloads settings) that changes a key gets a new
gateway, never a stale one. Missing or invalid settings raise BraintreeNotConfigured, whose
message says what to set, so the view can refuse with it and the configuration selector can
show it on the dashboard. (Chargebee's counterpart is billing.providers.chargebee.client.)
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

import braintree
from braintree.environment import Environment
from django.conf import settings

ENVIRONMENTS = ("sandbox", "production", "development")
DEFAULT_TIMEOUT_SECONDS = 30.0


class _UrlEnvironment(Environment):
    """An environment reached at an explicit URL, e.g. a local fake gateway over plain HTTP."""

    def __init__(self, *, scheme: str, host: str, port: int, verify: bool | str):
        super().__init__(
            "custom",
            host,
            str(port),
            "",  # auth_url: only used by the OAuth/connect flows we never call
            scheme == "https",
            verify,  # passed by the SDK to requests as `verify=`
        )
        self._scheme = scheme

    @property
    def protocol(self) -> str:
        return f"{self._scheme}://"


def environment_for(*, environment: str = "sandbox", gateway_url: str = "",
                    ca_bundle: str | None = None) -> Environment:
    """The SDK Environment for a settings name, or for an explicit gateway URL when given.

    `gateway_url` wins over `environment` so that tests can override the target without also
    changing the name; `ca_bundle` is only used for an https gateway URL (a proxy with its own
    certificate authority).
    """
    if gateway_url:
        parts = urlsplit(gateway_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"BRAINTREE_GATEWAY_URL must be http(s)://host[:port], got "
                             f"{gateway_url!r}")
        if parts.path not in ("", "/"):
            raise ValueError("BRAINTREE_GATEWAY_URL cannot have a path: the SDK appends "
                             "/merchants/... to the host")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return _UrlEnvironment(scheme=parts.scheme, host=parts.hostname, port=port,
                               verify=ca_bundle or True)
    name = (environment or "sandbox").strip().lower()
    if name not in ENVIRONMENTS:
        raise ValueError(f"BRAINTREE_ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}, "
                         f"got {environment!r}")
    return Environment.parse_environment(name)


def build_gateway(
    *,
    merchant_id: str,
    public_key: str,
    private_key: str,
    environment: str = "sandbox",
    gateway_url: str = "",
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ca_bundle: str | None = None,
) -> braintree.BraintreeGateway:
    """A gateway for these credentials.

    `wrap_http_exceptions` is switched on so that network failures surface as the SDK's own
    exception classes (which `errors.api_error_from` classifies) rather than raw `requests`
    errors; the timeout defaults to 30 s instead of the SDK's 60 s so a stuck call cannot hold
    a worker for a minute.
    """
    missing = [name for name, value in (("merchant_id", merchant_id),
                                        ("public_key", public_key),
                                        ("private_key", private_key)) if not value]
    if missing:
        raise ValueError(f"Braintree settings missing: {', '.join(missing)}")
    config = braintree.Configuration(
        environment=environment_for(environment=environment, gateway_url=gateway_url,
                                    ca_bundle=ca_bundle),
        merchant_id=merchant_id,
        public_key=public_key,
        private_key=private_key,
        timeout=timeout,
        wrap_http_exceptions=True,
    )
    return braintree.BraintreeGateway(config)


# -- from Django settings ------------------------------------------------------------------

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
