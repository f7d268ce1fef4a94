"""Actions are idempotent (the second call changes nothing and says so), answer what they did,
and leave an audit line naming the user."""

from __future__ import annotations

import logging

import pytest

from billing.models import WebhookEvent
from crm.models import ContractSync

pytestmark = pytest.mark.django_db


@pytest.fixture
def audit(caplog):
    caplog.set_level(logging.INFO, logger="subsync.audit")

    def lines(action: str) -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "subsync.audit"
                and getattr(r, "action", "") == action]

    return lines


def test_retry_twice(as_operator, failed_sync, audit):
    url = f"/api/v1/sync/{failed_sync.pk}/retry/"

    first, second = as_operator.post(url).json(), as_operator.post(url).json()

    assert (first["action"], first["changed"], first["sync_ids"]) == ("retry", 1,
                                                                      [failed_sync.pk])
    failed_sync.refresh_from_db()
    assert failed_sync.state == ContractSync.State.PENDING
    # Still pending and due: making it due again changes nothing that matters.
    assert second["sync_ids"] == [failed_sync.pk]
    assert failed_sync.state == ContractSync.State.PENDING
    records = audit("retry")
    assert len(records) == 2 and records[0].user == "operator" and records[0].via == "api"


def test_retry_all_failed_twice(as_operator, failed_sync, audit):
    first = as_operator.post("/api/v1/sync/retry-failed/").json()
    second = as_operator.post("/api/v1/sync/retry-failed/").json()

    assert (first["changed"], first["flush_requested"]) == (1, True)
    assert (second["changed"], second["flush_requested"]) == (0, False)
    assert "nothing to retry" in second["message"]
    assert len(audit("retry_all")) == 2


def test_park_and_unpark_twice(as_operator, failed_sync, audit):
    park = f"/api/v1/sync/{failed_sync.pk}/park/"
    unpark = f"/api/v1/sync/{failed_sync.pk}/unpark/"

    assert as_operator.post(park, {"reason": "needs a region"}, format="json").json()[
        "changed"] == 1
    again = as_operator.post(park, format="json").json()
    assert (again["changed"], again["message"]) == (0, "Already parked.")
    failed_sync.refresh_from_db()
    assert failed_sync.state == ContractSync.State.PARKED

    assert as_operator.post(unpark).json()["changed"] == 1
    assert as_operator.post(unpark).json()["changed"] == 0
    failed_sync.refresh_from_db()
    assert failed_sync.state == ContractSync.State.PENDING
    assert len(audit("park")) == 2 and len(audit("unpark")) == 2


def test_push_twice(as_operator, subscription, audit):
    url = f"/api/v1/subscriptions/{subscription.pk}/push/"

    first, second = as_operator.post(url).json(), as_operator.post(url).json()

    assert first["sync_ids"] == second["sync_ids"]
    assert ContractSync.objects.filter(subscription=subscription).count() == 1
    assert audit("push_now")[0].subscription == subscription.pk


def test_replay_twice(as_operator, failed_event, audit, sent):
    url = f"/api/v1/events/{failed_event.pk}/replay/"

    first = as_operator.post(url).json()
    second = as_operator.post(url).json()

    assert (first["previous_status"], first["status"], first["changed"]) == (
        "failed", "received", 1)
    assert (second["previous_status"], second["status"], second["changed"]) == (
        "received", "received", 0)
    assert "nothing to replay" in second["message"]
    failed_event.refresh_from_db()
    assert (failed_event.status, failed_event.attempts) == (WebhookEvent.State.RECEIVED, 0)
    assert [r.status for r in audit("replay_event")] == ["received", "received"]
