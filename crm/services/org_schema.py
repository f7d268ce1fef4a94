"""What the org's schema says that changes what we send: is it a multi-currency org?

Only multi-currency orgs have CurrencyIsoCode, and sending it to any other org fails every
record, so the answer comes from the org's own describe of Contract. It is cached (Django's
cache, SUBSYNC_SF_DESCRIBE_TTL_SECONDS) so that a flush with nothing new costs no call.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from crm.salesforce.client import SalesforceClient
from crm.salesforce.config import SalesforceConfig
from crm.services.attempts import record_call


def _key(config: SalesforceConfig) -> str:
    return f"subsync:sf:multi-currency:{config.login_url}:{config.client_id or config.username}"


def cached_multi_currency(*, config: SalesforceConfig) -> bool | None:
    """The cached answer, or None when unknown (no call is made)."""
    return cache.get(_key(config))


def multi_currency_enabled(*, client: SalesforceClient) -> bool:
    """True when Contract has CurrencyIsoCode (one describe call when not cached)."""
    known = cached_multi_currency(config=client.config)
    if known is not None:
        return known
    described = record_call(
        client=client, operation="describe", sobject="Contract",
        call=lambda: client.describe("Contract"),
    )
    enabled = any(f.get("name") == "CurrencyIsoCode" for f in (described or {}).get("fields", []))
    cache.set(_key(client.config), enabled, settings.SUBSYNC_SF_DESCRIBE_TTL_SECONDS)
    return enabled
