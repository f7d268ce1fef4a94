"""Fixtures for the Salesforce side: a real emulator over HTTPS, settings pointing at it.

Everything goes through simple-salesforce and requests exactly as in production; only the
org is local. The emulator's own tests (tests/crm/emulator) use `start_emulator` without settings.
"""

from __future__ import annotations

import contextlib

import pytest
from django.core.cache import cache

from crm.salesforce.emulator import EmulatorServer
from crm.salesforce.factory import reset_clients


@pytest.fixture(scope="session")
def cert_dir(tmp_path_factory):
    """One CA for the whole run: every emulator reuses it, which keeps start-up fast."""
    return tmp_path_factory.mktemp("sf-emulator-certs")


@pytest.fixture
def start_emulator(cert_dir):
    """Start emulators with custom options; all are stopped after the test."""
    started: list[EmulatorServer] = []

    def start(**options) -> EmulatorServer:
        options.setdefault("cert_dir", cert_dir)
        emu = EmulatorServer(**options).start()
        started.append(emu)
        return emu

    yield start
    for emu in started:
        with contextlib.suppress(Exception):
            emu.stop()


@pytest.fixture(autouse=True)
def _fresh_salesforce_state():
    """No client, session or cached describe leaks from one test (and one emulator) to the
    next: a new emulator may even reuse a previous one's port."""
    cache.clear()
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
