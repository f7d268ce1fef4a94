"""The Overview's figures (metrics.dashboard()) kept in Django's cache, so that a visitor does
not wait for them.

At 100,000 subscriptions and 1M ledger rows, metrics.dashboard() takes 0.5-1 s (most of it
NRR's query); the Overview is the page everyone opens first. The figures are stored with the
day, the months, the reporting currency, the time their computation began, and a cheap version
of what they are computed from: the newest ledger row (its id and time of recording) and the
exchange rates (a small table). Beat refreshes them every minute
(billing.tasks.refresh_overview_figures) so that, while the ledger is quiet, no visitor pays.

A request is served:
- the stored figures, when the version, day, months and currency all match (fresh);
- the stored figures marked `stale`, when only the version differs (a ledger row or a rate
  came since) and they are at most STALE_SECONDS old: the page shows them with their time and
  says newer ones are coming, and a refresh is asked of a worker (at most one per
  REFRESH_FLAG_SECONDS). Ops accept figures a minute or so old when the page says so, never older;
- computed for the request otherwise: nothing stored, another day, months or currency, or
  figures older than STALE_SECONDS (no worker refreshed them).
What the version cannot see (a subscription changed without a ledger row, a rate edited to the
same sum) lasts at most CACHE_SECONDS. A cache or broker that fails (Redis down) is skipped:
the figures are computed for the request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.db.models import Count, Max, Sum
from django.utils import timezone

from billing.models import ExchangeRate, SubscriptionChange
from billing.selectors import fx
from billing.selectors.metrics import Dashboard, dashboard
from subsync.celery import app

CACHE_SECONDS = 90  # longer than beat's refresh (60 s), so a quiet ledger always finds them
CACHE_KEY = "overview-figures"  # one entry: the figures of one day, months and version
# The oldest figures shown (marked as such) while newer ones are computed. Beat starts a
# refresh every 60 s and it takes a second or more (longer behind a busy queue), so 60 would
# make visitors compute the figures themselves in the gap before each refresh lands.
STALE_SECONDS = 90
REFRESH_TASK = "billing.tasks.refresh_overview_figures"
REFRESH_FLAG = "overview-refresh-requested"
REFRESH_FLAG_SECONDS = 30  # one refresh asked for at most this often, however many visitors

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedDashboard:
    figures: Dashboard
    computed_at: datetime  # aware, UTC: when the computation began (figures as of then)
    today: date
    months: int
    currency: str
    version: str
    stale: bool = False  # served while newer figures are computed (the ledger has changed)

    def serves(self, *, today: date, months: int, currency: str, version: str) -> bool:
        return (self.today, self.months, self.currency, self.version) == (
            today, months, currency, version)

    def stands_in(self, *, today: date, months: int, currency: str, now: datetime) -> bool:
        """Whether these figures may be shown, marked stale, while newer ones are computed."""
        return ((self.today, self.months, self.currency) == (today, months, currency)
                and now - self.computed_at <= timedelta(seconds=STALE_SECONDS))


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
    currency = fx.reporting_currency()
    if isinstance(found, CachedDashboard):
        if found.serves(today=today, months=months, currency=currency, version=version):
            return found
        if found.stands_in(today=today, months=months, currency=currency, now=timezone.now()):
            request_refresh()
            return replace(found, stale=True)
    return _compute(today=today, months=months, version=version)


def request_refresh() -> None:
    """Ask a worker to compute the figures again, unless one was asked for lately. Never
    raises: if no worker refreshes them, the figures age past STALE_SECONDS and the next
    visitor computes them."""
    try:
        if cache.add(REFRESH_FLAG, "1", timeout=REFRESH_FLAG_SECONDS):
            app.send_task(REFRESH_TASK)
    except Exception:
        logger.warning("overview figures: could not ask for a refresh", exc_info=True)


def refresh_dashboard(*, today: date, months: int = 12) -> CachedDashboard:
    """Compute the figures and store them (beat, every minute), whatever the cache holds."""
    return _compute(today=today, months=months, version=figures_version())


def _compute(*, today: date, months: int, version: str) -> CachedDashboard:
    # The version is read first: rows written while computing give the next request a new one.
    began = timezone.now()
    result = CachedDashboard(figures=dashboard(today=today, months=months),
                             computed_at=began, today=today, months=months,
                             currency=fx.reporting_currency(), version=version)
    try:
        cache.set(CACHE_KEY, result, CACHE_SECONDS)
    except Exception:
        logger.warning("overview figures: cache write failed", exc_info=True)
    return result
