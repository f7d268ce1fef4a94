"""A Salesforce client built from settings, or None (with one clear log line) without credentials.

Clients are kept per thread and per configuration, so a worker logs in once and reuses its
session across flushes instead of fetching a token every second under load; a change of
settings (tests, a reload) simply builds a new one.
"""

from __future__ import annotations

import logging
import threading

from crm.salesforce.client import SalesforceClient
from crm.salesforce.config import SalesforceConfig

log = logging.getLogger(__name__)

_local = threading.local()
_warned: set[tuple[str, ...]] = set()


def get_client() -> SalesforceClient | None:
    config = SalesforceConfig.from_settings()
    missing = config.missing()
    if missing:
        key = tuple(missing)
        if key not in _warned:
            _warned.add(key)
            log.warning(
                "Salesforce sync is disabled: %s not set (flow %s). Subscriptions stay "
                "pending until credentials are configured; `make run` starts the bundled "
                "emulator and sets them itself.",
                ", ".join(missing), config.auth_flow,
            )
        return None
    client = getattr(_local, "client", None)
    if client is None or client.config != config:
        from crm.services.org_state import record_api_usage, record_instance_url

        if client is not None:
            client.close()
        client = SalesforceClient(
            config=config, usage_sink=lambda usage: record_api_usage(usage=usage),
            login_sink=lambda url: record_instance_url(instance_url=url),
        )
        _local.client = client
    return client


def reset_clients() -> None:
    """Forget this thread's client and the "disabled" warnings given (tests, or after
    credentials were rotated)."""
    _warned.clear()
    client = getattr(_local, "client", None)
    if client is not None:
        client.close()
    _local.client = None
