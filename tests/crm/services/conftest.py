"""Fixtures shared by the push engine's tests."""

from __future__ import annotations

import pytest

from crm.services import claims, flush, sync_state


@pytest.fixture
def tasks(monkeypatch):
    """Tasks the flush sends (the follow-up flush of budget-deferred rows) are recorded as
    (name, options), not sent: no worker consumes the broker in these tests."""
    sent = []
    monkeypatch.setattr(flush.app, "send_task",
                        lambda name, **options: sent.append((name, options)))
    return sent


@pytest.fixture
def flushes(monkeypatch):
    """Flush requests are counted, not sent: no worker consumes the broker here."""
    asked = []
    monkeypatch.setattr(sync_state, "request_flush", lambda: asked.append(1) or True)
    monkeypatch.setattr(claims, "request_flush", lambda: asked.append(1) or True)
    return asked
