"""Fixtures for the Salesforce side: a real emulator over HTTPS, settings pointing at it.

Everything goes through simple-salesforce and requests exactly as in production; only the
org is local. `start_emulator` comes from the plugin tests/support/salesforce_emulator.py,
shared with the emulator's own tests (tests/emulator/salesforce), which use it without
settings.
"""

from __future__ import annotations

import pytest

from crm.salesforce.factory import reset_clients
from emulator.salesforce import EmulatorServer
from tests.support.cache import forget_test_keys


@pytest.fixture(autouse=True)
def _fresh_salesforce_state():
    """No client, session or cached describe leaks from one test (and one emulator) to the
    next: a new emulator may even reuse a previous one's port."""
    forget_test_keys()  # not a clear of the whole cache: on Redis that flushes the broker
    reset_clients()
    yield
    reset_clients()


def point_settings_at(settings, emu: EmulatorServer) -> None:
    settings.SALESFORCE_LOGIN_URL = emu.url
    settings.SALESFORCE_AUTH_FLOW = "client_credentials"
    settings.SALESFORCE_CLIENT_ID = "emulator"
    settings.SALESFORCE_CLIENT_SECRET = "emulator"
    settings.SALESFORCE_USERNAME = ""
    settings.SALESFORCE_PASSWORD = ""
    settings.SALESFORCE_PRIVATE_KEY_FILE = ""
    settings.SALESFORCE_CA_BUNDLE = str(emu.ca_path)
    settings.SALESFORCE_TIMEOUT = 5.0


@pytest.fixture
def start_salesforce(settings, start_emulator):
    """Start an emulator with options and point the Salesforce settings at it."""

    def start(**options) -> EmulatorServer:
        emu = start_emulator(**options)
        point_settings_at(settings, emu)
        return emu

    return start


@pytest.fixture
def emu(start_salesforce) -> EmulatorServer:
    return start_salesforce()
