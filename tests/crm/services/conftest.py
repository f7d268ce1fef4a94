"""Fixtures shared by the push engine's tests."""

from __future__ import annotations

import pytest

from crm.services import flush


@pytest.fixture
def tasks(monkeypatch):
    """Tasks the flush sends (the follow-up flush of budget-deferred rows) are recorded as
    (name, options), not sent: no worker consumes the broker in these tests."""
    sent = []
    monkeypatch.setattr(flush.app, "send_task",
                        lambda name, **options: sent.append((name, options)))
    return sent
