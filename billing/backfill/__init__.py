"""Backfills: import every subscription of a provider through its list API.

Each provider module registers a function with the signature of `BackfillFn`; the `backfill`
management command dispatches to it. Runs are resumable: a billing.models.Cursor row keeps the
position after every page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class BackfillOptions:
    since: datetime | None = None
    statuses: tuple[str, ...] = ()
    restart: bool = False  # ignore a saved position and start from the beginning


class Progress(Protocol):
    def update(self, n: int = 1) -> object: ...


BackfillFn = Callable[..., int]  # (*, options: BackfillOptions, progress: Progress) -> imported

_BACKFILLS: dict[str, BackfillFn] = {}


def register(provider: str, fn: BackfillFn) -> None:
    _BACKFILLS[provider] = fn


def get(provider: str) -> BackfillFn:
    return _BACKFILLS[provider]


def providers() -> list[str]:
    return sorted(_BACKFILLS)


def search_counts(provider: str) -> dict | None:
    """What the last backfill's search of `provider` found (ids, date ranges, searches), when
    it splits its search (Braintree); None otherwise."""
    from billing.models import Cursor

    params = (Cursor.objects.filter(provider=provider, name__startswith="backfill:")
              .values_list("params", flat=True).first())
    return (params or {}).get("search")
