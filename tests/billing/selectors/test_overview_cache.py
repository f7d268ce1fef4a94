"""The Overview's figures come from the cache until the ledger or the rates change."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from django.core.cache import cache
from django.utils import timezone

from billing import tasks
from billing.selectors import metrics, overview_cache
from tests.billing.selectors.factories import at, change, customer, rate, subscription

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 12, 10)


@pytest.fixture
def computed(monkeypatch) -> list[dt.date]:
    """The days metrics.dashboard() was asked for (it still computes)."""
    calls: list[dt.date] = []

    def counting(*, today, months=12):
        calls.append(today)
        return metrics.dashboard(today=today, months=months)

    monkeypatch.setattr(overview_cache, "dashboard", counting)
    return calls


@pytest.fixture
def paying(settings):
    settings.SUBSYNC_REPORTING_CURRENCY = "USD"
    sub = subscription(customer("Acme"), mrr=10000)
    change(sub, when=at(2026, 11, 2), before="", after="active", mrr_after=10000,
           movement="new", amount=10000)
    return sub


def test_a_second_request_reads_the_figures_computed_by_the_first(computed, paying):
    first = overview_cache.cached_dashboard(today=TODAY)
    second = overview_cache.cached_dashboard(today=TODAY)

    assert computed == [TODAY]
    assert second.figures == first.figures
    assert second.figures.overview.mrr.value.amount == 10000  # $100.00


@pytest.fixture(autouse=True)
def refreshes(monkeypatch) -> list[str]:
    """The refresh tasks asked of a worker. No worker runs in these tests, so sending is
    recorded instead; the task itself is run directly where a test needs its result."""
    asked: list[str] = []
    monkeypatch.setattr(overview_cache.app, "send_task", lambda name, **kw: asked.append(name))
    return asked


def _expansion(sub):
    sub.mrr = 15000
    sub.save(update_fields=["mrr"])
    change(sub, when=at(2026, 12, 1), before="active", after="active", mrr_before=10000,
           mrr_after=15000, movement="expansion", amount=5000)


def test_a_new_ledger_row_shows_the_last_figures_marked_stale_and_asks_for_new_ones(
        computed, paying, refreshes):
    first = overview_cache.cached_dashboard(today=TODAY)
    _expansion(paying)

    again = overview_cache.cached_dashboard(today=TODAY)
    once_more = overview_cache.cached_dashboard(today=TODAY)

    assert computed == [TODAY]  # not computed for the visitors
    assert (again.stale, again.computed_at, again.figures) == (True, first.computed_at,
                                                               first.figures)
    assert once_more.stale and refreshes == ["billing.tasks.refresh_overview_figures"]
    # The worker's refresh (run here) stores the new figures; the next visitor reads them.
    overview_cache.refresh_dashboard(today=TODAY)
    fresh = overview_cache.cached_dashboard(today=TODAY)
    assert (fresh.stale, fresh.figures.overview.mrr.value.amount) == (False, 15000)
    assert computed == [TODAY, TODAY]


def test_figures_older_than_a_minute_are_never_shown_for_a_changed_ledger(computed, paying,
                                                                          refreshes):
    first = overview_cache.cached_dashboard(today=TODAY)
    aged = first.computed_at - dt.timedelta(seconds=overview_cache.STALE_SECONDS + 1)
    cache.set(overview_cache.CACHE_KEY, dataclasses.replace(first, computed_at=aged))
    _expansion(paying)

    again = overview_cache.cached_dashboard(today=TODAY)

    assert (again.stale, again.figures.overview.mrr.value.amount) == (False, 15000)
    assert computed == [TODAY, TODAY] and refreshes == []


def test_a_broker_that_fails_still_shows_the_marked_figures(computed, paying, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("broker down")

    overview_cache.cached_dashboard(today=TODAY)
    monkeypatch.setattr(overview_cache.app, "send_task", broken)
    _expansion(paying)

    assert overview_cache.cached_dashboard(today=TODAY).stale
    assert computed == [TODAY]


def test_a_new_exchange_rate_means_new_figures_another_day_computing_again(computed, paying,
                                                                           refreshes):
    overview_cache.cached_dashboard(today=TODAY)
    rate("EUR", "1.10")
    assert overview_cache.cached_dashboard(today=TODAY).stale
    assert refreshes == ["billing.tasks.refresh_overview_figures"]
    overview_cache.cached_dashboard(today=TODAY + dt.timedelta(days=1))

    assert computed == [TODAY, TODAY + dt.timedelta(days=1)]


def test_another_reporting_currency_means_computing_again(computed, paying, settings):
    overview_cache.cached_dashboard(today=TODAY)
    settings.SUBSYNC_REPORTING_CURRENCY = "EUR"
    again = overview_cache.cached_dashboard(today=TODAY)

    assert len(computed) == 2
    assert again.figures.overview.currency == "EUR"


def test_a_failing_cache_only_costs_the_computation(computed, paying, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", broken)
    monkeypatch.setattr(cache, "set", broken)

    figures = overview_cache.cached_dashboard(today=TODAY)

    assert figures.figures.overview.mrr.value.amount == 10000
    assert computed == [TODAY]


def test_the_beat_task_computes_today_s_figures_for_the_next_visitor(computed, paying):
    today = timezone.now().date()

    stamp = tasks.refresh_overview_figures()
    found = overview_cache.cached_dashboard(today=today)

    assert computed == [today]  # by the task; the visitor read them
    assert found.computed_at.isoformat() == stamp


def test_a_starting_worker_asks_for_the_figures_once(refreshes):
    """worker_ready: the figures are computed as the worker starts, not at beat's first
    tick; a second worker starting at the same moment asks nothing more (the flag)."""
    tasks.compute_overview_figures_at_start()
    tasks.compute_overview_figures_at_start()

    assert refreshes == ["billing.tasks.refresh_overview_figures"]
