"""Chargebee behind the provider interface used by the event pipeline."""

from __future__ import annotations

from billing.normalized import ParsedEvent
from billing.providers.base import ProviderAdapter, ProviderError
from billing.providers.chargebee.errors import ChargebeeEventError
from billing.providers.chargebee.parse import parse_event


class ChargebeeAdapter(ProviderAdapter):
    name = "chargebee"

    def parse_event(self, *, event_type: str, body: str) -> ParsedEvent:
        try:
            return parse_event(event=body)
        except ChargebeeEventError as exc:
            # Bad data stays bad: no retry, the message goes on the event row.
            raise ProviderError(str(exc), permanent=True) from exc
