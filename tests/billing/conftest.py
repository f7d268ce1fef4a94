"""Fixtures shared by the billing tests."""

from __future__ import annotations

import pytest
from chargebee import Chargebee

from emulator.chargebee.server import FakeChargebee


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
