"""Fixtures shared by every test package."""

import pytest

from billing.services import events


@pytest.fixture
def sent(monkeypatch) -> list[int]:
    """Ids of the events handed to the broker for processing.

    Captured instead of delivered: no worker runs in these tests, which call the task
    function or the service themselves where processing is under test.
    """
    calls: list[int] = []

    def capture(name, args=None, **options):
        if name == events.PROCESS_TASK:
            calls.append(args[0])

    monkeypatch.setattr(events.app, "send_task", capture)
    return calls

