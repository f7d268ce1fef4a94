"""A tiny stand-in provider adapter for pipeline tests (store, claim, apply, fail, retry).

Registered as "chargebee" so that the pipeline's own code paths run; the tests using it are
about the pipeline, not a provider's format (those have their own tests).
"""

from __future__ import annotations

import json
from contextlib import contextmanager

from billing.normalized import ParsedEvent
from billing.providers.base import ProviderAdapter, ProviderError, register
from tests.support.normalized import subscription


class JsonAdapter(ProviderAdapter):
    """Body {"sub": id, "mrr": N, "version": V} → one subscription ("sub_1" of "cus_1" when no
    id is given); {"boom": msg, "permanent": bool} raises; event type "unrelated" is ignored."""

    name = "chargebee"

    def parse_event(self, *, event_type, body):
        data = json.loads(body)
        if "boom" in data:
            raise ProviderError(data["boom"], permanent=data.get("permanent", False))
        if event_type == "unrelated":
            return ParsedEvent(event_type=event_type, ignored_reason="not a subscription event")
        return ParsedEvent(event_type=event_type, subscriptions=(
            subscription(data.get("sub", "sub_1"), customer_id=f"cus_{data.get('sub', '1')}",
                         mrr=data["mrr"], version=data["version"]),))


@contextmanager
def json_adapter_registered():
    """Register JsonAdapter as "chargebee" for the duration, then put the real one back."""
    from billing.providers import base

    previous = base._REGISTRY.get("chargebee")
    register(JsonAdapter())
    try:
        yield
    finally:
        if previous is not None:
            register(previous)
