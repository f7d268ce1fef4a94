"""The Overview's figures (metrics.dashboard()) kept in Django's cache, so that a visitor does
not wait for them.

At 100,000 subscriptions and 1M ledger rows, metrics.dashboard() takes about a second; the
Overview is the page everyone opens first. The figures are stored with the day, the months,
the reporting currency and a cheap version of what they are computed from: the newest ledger
row (its id and time of recording) and the exchange rates (a small table). They serve a request
only when all of these match it: a new ledger row or a rate added, removed or edited means
computing again, so the page never shows figures older than the ledger. What the version
cannot see (a subscription changed without a ledger row, a rate edited to the same sum) lasts
at most CACHE_SECONDS. Beat refreshes the figures every minute
(billing.tasks.refresh_overview_figures) so that, while the ledger is quiet, no visitor pays
for them; the page says when they were computed. A cache that fails (Redis down) is skipped:
the figures are computed for the request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from django.core.cache import cache
from django.db.models import Count, Max, Sum
from django.utils import timezone

from billing.models import ExchangeRate, SubscriptionChange
from billing.selectors import fx
from billing.selectors.metrics import Dashboard, dashboard

CACHE_SECONDS = 90  # longer than beat's refresh (60 s), so a quiet ledger always finds them
CACHE_KEY = "overview-figures"  # one entry: the figures of one day, months and version

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedDashboard:
    figures: Dashboard
    computed_at: datetime  # aware, UTC
    today: date
    months: int
    currency: str
    version: str

    def serves(self, *, today: date, months: int, currency: str, version: str) -> bool:
        return (self.today, self.months, self.currency, self.version) == (
            today, months, currency, version)


def figures_version() -> str:
    """What the figures depend on that changes between requests, in two cheap queries: the
    newest ledger row (by primary key) and a summary of the exchange rates (a small table)."""
    newest = SubscriptionChange.objects.order_by("-id").values_list("id", "recorded_at").first()
    rates = ExchangeRate.objects.aggregate(n=Count("id"), latest=Max("id"),
                                           newest=Max("valid_from"), total=Sum("rate"))
    ledger = f"{newest[0]}@{newest[1].isoformat()}" if newest else "empty"
    return f"{ledger}:{rates['n']}:{rates['latest']}:{rates['newest']}:{rates['total']}"


def cached_dashboard(*, today: date, months: int = 12) -> CachedDashboard:
    """The figures of metrics.dashboard(today, months), from the cache when they are there."""
    version = figures_version()
    try:
        found = cache.get(CACHE_KEY)
    except Exception:  # a cache is an optimisation: never a reason to fail the page
        logger.warning("overview figures: cache read failed", exc_info=True)
        found = None
    if isinstance(found, CachedDashboard) and found.serves(
            today=today, months=months, currency=fx.reporting_currency(), version=version):
        return found
    return _compute(today=today, months=months, version=version)


def refresh_dashboard(*, today: date, months: int = 12) -> CachedDashboard:
    """Compute the figures and store them (beat, every minute), whatever the cache holds."""
    return _compute(today=today, months=months, version=figures_version())


def _compute(*, today: date, months: int, version: str) -> CachedDashboard:
    # The version is read first: rows written while computing give the next request a new one.
    result = CachedDashboard(figures=dashboard(today=today, months=months),
                             computed_at=timezone.now(), today=today, months=months,
                             currency=fx.reporting_currency(), version=version)
    try:
        cache.set(CACHE_KEY, result, CACHE_SECONDS)
    except Exception:
        logger.warning("overview figures: cache write failed", exc_info=True)
    return result
