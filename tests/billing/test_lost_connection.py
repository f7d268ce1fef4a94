"""A drain or an event task whose database connection dies mid-batch (PostgreSQL restarted;
the worker lives) gives back the events it claimed as soon as the database answers again,
instead of leaving them `processing` for SUBSYNC_STUCK_EVENT_SECONDS (issue 15). Their attempt
stays counted; one that was on its last attempt is marked `failed` with the reason.

The outage is real (tests.support.database_outage: the run's server process is killed and
the database refuses connections for a while); nothing is mocked. What the test chooses is
the moment: our own processing.apply_parsed_events, which runs after the claim inside the
batch's transaction, is wrapped to start the outage there (once).
"""

from __future__ import annotations

import json
import logging

import pytest
from django.db import OperationalError
from django.utils import timezone

from billing.models import Subscription, SubscriptionChange, WebhookEvent
from billing.services import drain, give_back, intake, processing
from subsync import lost_connection
from tests.support.database_outage import outages
from tests.support.json_adapter import json_adapter_registered

pytestmark = pytest.mark.django_db(transaction=True)
MAX_ATTEMPTS = 3


@pytest.fixture(autouse=True)
def adapter(settings):
    settings.SUBSYNC_EVENT_MAX_ATTEMPTS = MAX_ATTEMPTS
    with json_adapter_registered():
        yield


@pytest.fixture
def cut_off():
    with outages() as cut:
        yield cut


def stored(n: int, *, attempts: int = 0) -> WebhookEvent:
    event = intake.store_event(provider="chargebee", event_id=f"ev_{n}",
                               event_type="subscription_created",
                               body=json.dumps({"sub": f"sub_{n}", "mrr": 5000, "version": 1})
                               ).event
    WebhookEvent.objects.filter(pk=event.pk).update(attempts=attempts)
    return event


def while_applying(monkeypatch, action) -> None:
    """Run `action` once, as the first batch starts to apply (its events are claimed)."""
    real = processing.apply_parsed_events
    done = []

    def apply(ready):
        if not done:
            done.append(True)
            action()
        return real(ready)

    monkeypatch.setattr(processing, "apply_parsed_events", apply)


def test_a_drain_that_lost_its_connection_gives_its_events_back(tasks, cut_off, monkeypatch,
                                                                caplog):
    first, second = stored(0), stored(1)
    last_try = stored(2, attempts=MAX_ATTEMPTS - 1)  # its claim starts its last attempt
    tasks.clear()  # the drains the stored events asked for
    while_applying(monkeypatch, lambda: cut_off(1.5))  # the release needs a few tries

    with caplog.at_level(logging.WARNING), pytest.raises(OperationalError):
        drain.drain(batch_size=10)

    for event in (first, second):
        event.refresh_from_db()
        assert (event.status, event.attempts, event.claimed_by) == ("received", 1, "")
    last_try.refresh_from_db()
    assert (last_try.status, last_try.attempts) == ("failed", MAX_ATTEMPTS)
    assert last_try.error == give_back.LOST_CONNECTION.format(attempts=MAX_ATTEMPTS,
                                                            limit=MAX_ATTEMPTS)
    assert tasks == [(drain.DRAIN_TASK, None)]
    assert "gave back 3 webhook events" in caplog.text
    assert not SubscriptionChange.objects.exists()

    assert drain.drain(batch_size=10) == 2

    for event in (first, second):
        event.refresh_from_db()
        assert (event.status, event.attempts) == ("processed", 2)
    assert sorted(Subscription.objects.values_list("external_id", flat=True)) == [
        "sub_0", "sub_1"]
    # Applied exactly once each.
    assert sorted(SubscriptionChange.objects.values_list("subscription__external_id",
                                                         flat=True)) == ["sub_0", "sub_1"]


def test_while_the_database_stays_down_the_event_keeps_its_claim_and_the_error_is_raised(
    tasks, cut_off, monkeypatch, caplog
):
    """The outage outlasts the release's retries (shortened here to half a second)."""
    monkeypatch.setattr(lost_connection, "RETRY_SECONDS", 0.5)
    monkeypatch.setattr(lost_connection, "RETRY_INTERVAL", 0.1)
    event = stored(0)
    tasks.clear()
    before = timezone.now()
    outage = []
    while_applying(monkeypatch, lambda: outage.append(cut_off(30)))

    with caplog.at_level(logging.WARNING), pytest.raises(OperationalError):
        processing.process_event(event_id=event.pk)
    outage[0]()  # the database is back: look at what the run left

    event.refresh_from_db()
    # Still the run's claim (its lease is the fallback): no outcome, no retry sent.
    assert (event.status, event.attempts) == ("processing", 1)
    assert event.claimed_at >= before
    assert tasks == []
    assert "their lease will free them" in caplog.text


def test_events_with_an_outcome_or_claimed_again_since_are_not_given_back(tasks):
    done, reclaimed, held = stored(0), stored(1), stored(2)
    claimed = processing.claim_events(limit=10)
    WebhookEvent.objects.filter(pk=done.pk).update(status="processed")
    # Released by another path, then claimed again by another run: another stamp.
    WebhookEvent.objects.filter(pk=reclaimed.pk).update(claimed_at=timezone.now())

    assert give_back.release_unfinished(events=claimed) == 1

    statuses = dict(WebhookEvent.objects.values_list("pk", "status"))
    assert statuses == {done.pk: "processed", reclaimed.pk: "processing", held.pk: "received"}
