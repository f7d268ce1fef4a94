"""Fixtures shared by the billing tests."""

from __future__ import annotations

import pytest
from chargebee import Chargebee

from billing.services import processing
from emulator.braintree.server import FakeBraintreeServer
from emulator.braintree.subscriptions import Keys
from emulator.chargebee.server import FakeChargebee
from tests.support.braintree_app import configure, seed


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


@pytest.fixture
def braintree_server(settings):
    """A seeded fake Braintree gateway over real HTTP, the settings' keys and URL pointing at
    it (keys: emulator.braintree.subscriptions.Keys())."""
    keys = Keys()
    with FakeBraintreeServer(keys=keys) as fake:
        seed(fake)
        configure(settings, keys=keys, gateway_url=fake.url)
        yield fake


@pytest.fixture
def no_enqueue(monkeypatch):
    """Stored events are not sent to a broker (a test processes them itself)."""
    monkeypatch.setattr(processing.app, "send_task", lambda name, args: None)


@pytest.fixture
def tasks(monkeypatch):
    """Tasks sent through the app, recorded as (name, args) instead of sent: no worker
    consumes the broker in these tests."""
    sent = []
    monkeypatch.setattr(processing.app, "send_task",
                        lambda name, args=None, **options: sent.append((name, args)))
    return sent
