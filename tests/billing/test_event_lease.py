"""Every claimed event holds a lease (claimed_at, the start of its current attempt): an event
whose worker died ends `failed` or is retried, never `processing` for ever, and an event a
worker holds right now is handed to nobody else (issue 15, gaps 1 and 2)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import WebhookEvent
from billing.services import intake, processing, replay, requeue
from tests.support.json_adapter import json_adapter_registered

pytestmark = pytest.mark.django_db
LEASE = 300


@pytest.fixture(autouse=True)
def adapter(settings):
    settings.SUBSYNC_STUCK_EVENT_SECONDS = LEASE
    settings.SUBSYNC_EVENT_MAX_ATTEMPTS = 3
    with json_adapter_registered():
        yield


def deliver(event_id: str) -> intake.StoreResult:
    return intake.store_event(provider="chargebee", event_id=event_id,
                              event_type="subscription_created",
                              body='{"mrr": 5000, "version": 1}')


def store(event_id: str) -> WebhookEvent:
    return deliver(event_id).event


def held(event_id: str, *, attempts: int, started_seconds_ago: int,
         received_seconds_ago: int = 3600) -> WebhookEvent:
    """An event a worker claimed for its `attempts`-th attempt that long ago."""
    event = store(event_id)
    now = timezone.now()
    WebhookEvent.objects.filter(pk=event.pk).update(
        status="processing", attempts=attempts,
        claimed_at=now - timedelta(seconds=started_seconds_ago),
        received_at=now - timedelta(seconds=received_seconds_ago))
    event.refresh_from_db()
    return event


def test_a_claim_starts_the_lease():
    event = store("ev_1")
    before = timezone.now()
    [claimed] = processing.claim_events(limit=1)
    event.refresh_from_db()
    assert claimed.pk == event.pk and event.status == "processing" and event.attempts == 1
    assert event.claimed_at is not None and event.claimed_at >= before


def test_an_old_event_retried_right_now_is_not_handed_out_again(tasks):
    """Received an hour ago, its current attempt started a second ago: not stuck."""
    live = held("ev_live", attempts=2, started_seconds_ago=1)
    assert requeue.requeue_stuck_events(older_than_seconds=LEASE) == 0
    assert tasks == []
    # A task sent for it anyway (a duplicate message) finds it held and leaves it alone.
    assert processing.claim_events(ids=[live.pk]) == []
    live.refresh_from_db()
    assert (live.status, live.attempts) == ("processing", 2)


def test_an_event_whose_lease_ran_out_gets_its_own_task_and_is_claimed_again(tasks):
    dead = held("ev_dead", attempts=1, started_seconds_ago=LEASE + 5)
    assert requeue.requeue_stuck_events(older_than_seconds=LEASE) == 1
    assert tasks == [(processing.PROCESS_TASK, [dead.pk])]
    assert processing.process_event(event_id=dead.pk) == "processed"
    dead.refresh_from_db()
    assert (dead.status, dead.attempts) == ("processed", 2)


def test_a_worker_that_died_in_the_last_attempt_leaves_the_event_failed_with_the_reason(tasks):
    last = held("ev_last", attempts=3, started_seconds_ago=LEASE + 5)
    assert requeue.requeue_stuck_events(older_than_seconds=LEASE) == 1
    last.refresh_from_db()
    assert last.status == "failed" and tasks == []
    assert "attempt 3 of 3" in last.error
    # Visible to the default replay selection (failed events), not parked.
    assert list(replay.select_for_replay()) == [last]
    # Nothing left for the next run.
    assert requeue.requeue_stuck_events(older_than_seconds=LEASE) == 0


def test_a_received_event_at_the_attempt_cap_still_starts_a_drain(tasks):
    """A provider's redelivery of an event that used up its attempts resets it to received;
    the requeue must not skip it because of its attempt count."""
    event = store("ev_redelivered")
    WebhookEvent.objects.filter(pk=event.pk).update(
        attempts=3, received_at=timezone.now() - timedelta(seconds=LEASE + 5))
    assert requeue.requeue_stuck_events(older_than_seconds=LEASE) == 1
    assert [name for name, _ in tasks] == ["billing.tasks.drain_webhook_events"]


def test_a_redelivery_retries_an_event_whose_worker_died_but_not_one_being_worked_on(
        sent, django_capture_on_commit_callbacks):
    dead = held("ev_dead", attempts=3, started_seconds_ago=LEASE + 5)
    live = held("ev_live", attempts=1, started_seconds_ago=1)
    with django_capture_on_commit_callbacks(execute=True):
        again_dead, again_live = deliver("ev_dead"), deliver("ev_live")
    assert again_dead.requeued and not again_live.requeued
    dead.refresh_from_db()
    live.refresh_from_db()
    assert (dead.status, live.status) == ("received", "processing")


def test_replay_takes_a_processing_event_only_once_its_lease_ran_out(
        sent, django_capture_on_commit_callbacks):
    live = held("ev_live", attempts=1, started_seconds_ago=1)
    dead = held("ev_dead", attempts=3, started_seconds_ago=LEASE + 5)
    with django_capture_on_commit_callbacks(execute=True):
        refused = replay.replay_event(event=live)
        taken = replay.replay_event(event=dead)
    assert refused.status == "processing" and "processing it now" in refused.error
    assert taken.status == "received" and not taken.error
    dead.refresh_from_db()
    assert (dead.status, dead.attempts) == ("received", 0)


def test_the_dashboard_replays_a_stuck_processing_event(
        client, django_user_model, sent, django_capture_on_commit_callbacks):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("op", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="change_webhookevent"))
    client.force_login(user)
    dead = held("ev_dead", attempts=3, started_seconds_ago=LEASE + 5)
    live = held("ev_live", attempts=1, started_seconds_ago=1)
    with django_capture_on_commit_callbacks(execute=True):
        taken = client.post(reverse("dashboard:event-replay", args=[dead.pk]), follow=True)
        refused = client.post(reverse("dashboard:event-replay", args=[live.pk]), follow=True)
    assert "was handed to the worker again" in taken.content.decode()
    assert "processing it now" in refused.content.decode()
    dead.refresh_from_db()
    live.refresh_from_db()
    assert (dead.status, live.status) == ("received", "processing")
