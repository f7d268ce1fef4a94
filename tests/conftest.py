"""Fixtures shared by every test package."""

import pytest
from django.core.cache import cache

from billing.providers.braintree.cache import forget_memos
from billing.services import drain, intake, processing


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
    drain._requested_until = 0.0
    yield
    cache.delete_many([drain.FLAG, drain.HELPER_FLAG])
    drain._requested_until = 0.0


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
