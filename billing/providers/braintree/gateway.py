"""Build the SDK's `BraintreeGateway` from plain settings values.

Everything talks to Braintree through one gateway object built here, so tests and proxies can
point it at another URL (BRAINTREE_GATEWAY_URL) without touching the callers. The SDK decides
http vs https from the port alone (only "443" means https), so a custom URL gets a small
Environment subclass that takes the scheme from the URL instead.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import braintree
from braintree.environment import Environment

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
