"""Fixtures that start `emulator.salesforce` servers, for the emulator's own tests
(tests/emulator/salesforce) and for the Salesforce side of the app (tests/crm).

A pytest plugin (`-p tests.support.salesforce_emulator` in pyproject.toml) rather than a
conftest, because the two test packages are siblings and share one CA for the whole run.
Nothing here touches Django, so the emulator's own tests stay free of it.
"""

from __future__ import annotations

import contextlib

import pytest

from emulator.salesforce import EmulatorServer


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
