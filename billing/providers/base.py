"""The small interface every billing provider module implements.

A provider turns a stored WebhookEvent into a ParsedEvent (pure parsing, plus whatever API
look-ups it needs: those run in the worker, never in the web request). Errors say whether
trying again can help.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from billing.normalized import ParsedEvent


class ProviderError(Exception):
    """An error talking to or understanding a provider. `permanent` means retrying won't help."""

    def __init__(self, message: str, *, permanent: bool, retry_after: float | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class ProviderAdapter(ABC):
    name: str

    @abstractmethod
    def parse_event(self, *, event_type: str, body: str) -> ParsedEvent:
        """Parse a stored event body. Raise ProviderError (permanent for bad data)."""


_REGISTRY: dict[str, ProviderAdapter] = {}


def register(adapter: ProviderAdapter) -> ProviderAdapter:
    _REGISTRY[adapter.name] = adapter
    return adapter


def get_adapter(name: str) -> ProviderAdapter:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ProviderError(
            f"no provider module is registered for {name!r}", permanent=True
        ) from None
