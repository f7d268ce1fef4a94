"""Fixtures shared by every test package, and the Hypothesis profiles."""

import os

import pytest
from django.core.cache import cache
from hypothesis import settings as hypothesis_settings

from billing.providers.braintree.cache import forget_memos
from billing.selectors import overview_cache
from billing.services import drain, drain_requests, intake, processing

# In CI (CI set, as CI services do) examples are derived from each test, not drawn at random,
# so a failure there reproduces anywhere with CI=1; locally they stay random, to find more.
# HYPOTHESIS_PROFILE picks one explicitly.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True, database=None)
hypothesis_settings.register_profile("dev")
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(autouse=True)
def _no_remembered_braintree_rows():
    """Braintree cache rows are remembered per process; tests change them freely."""
    forget_memos()
    yield
    forget_memos()


@pytest.fixture(autouse=True)
def _no_drain_flags():
    """Drain flags live in a shared cache (Redis or files): none may leak between tests."""
    cache.delete_many([drain.FLAG, drain.HELPER_FLAG])
    drain_requests._requested_until = 0.0
    yield
    cache.delete_many([drain.FLAG, drain.HELPER_FLAG])
    drain_requests._requested_until = 0.0


@pytest.fixture(autouse=True)
def _no_cached_overview():
    """The Overview's figures are cached by version; ids reused after a rollback (SQLite)
    could make another test's figures look current."""
    cache.delete_many([overview_cache.CACHE_KEY, overview_cache.REFRESH_FLAG])
    yield
    cache.delete_many([overview_cache.CACHE_KEY, overview_cache.REFRESH_FLAG])


@pytest.fixture
def sent(monkeypatch) -> list[int]:
    """Ids of the events handed over for processing: announced to the drain after the commit,
    or sent as their own task (retries, stuck events).

    Captured instead of delivered: no worker runs in these tests, which call the task
    function or the service themselves where processing is under test.
    """
    calls: list[int] = []

    def capture(name, args=None, **options):
        if name == processing.PROCESS_TASK:
            calls.append(args[0])

    monkeypatch.setattr(processing.app, "send_task", capture)
    monkeypatch.setattr(intake, "announce", calls.append)
    return calls
