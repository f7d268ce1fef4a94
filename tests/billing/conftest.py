"""Fixtures shared by the billing tests."""

from __future__ import annotations

import pytest
from chargebee import Chargebee

from billing.services import events
from tests.support.chargebee.server import FakeChargebee


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


@pytest.fixture(autouse=True)
def _restore_chargebee_class_state():
    """The Chargebee client flips `Chargebee.verify_ca_certs` for http URLs; keep tests apart."""
    saved = Chargebee.verify_ca_certs
    yield
    Chargebee.verify_ca_certs = saved


@pytest.fixture
def chargebee_server(settings):
    """A fake Chargebee API over real HTTP, with the settings pointing the app at it."""
    with FakeChargebee() as fake:
        settings.CHARGEBEE_SITE = fake.site
        settings.CHARGEBEE_API_KEY = fake.api_key
        settings.CHARGEBEE_API_URL = fake.api_url
        yield fake
