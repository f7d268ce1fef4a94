"""A worker that starts gives back at once the events its node name held before it started:
an earlier incarnation of it claimed them and died (issue 15: converge within a minute of a
worker being killed and restarted, not after the 5-minute lease). And a `received` event whose
drain was lost is drained again after the drain flag's lifetime, not after the lease."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import WebhookEvent
from billing.services import drain, give_back, intake, processing, requeue
from tests.support.json_adapter import json_adapter_registered

pytestmark = pytest.mark.django_db
NODE = "celery@worker-a"
MAX_ATTEMPTS = 3


@pytest.fixture(autouse=True)
def adapter(settings):
    settings.SUBSYNC_STUCK_EVENT_SECONDS = 300
    settings.SUBSYNC_EVENT_MAX_ATTEMPTS = MAX_ATTEMPTS
    with json_adapter_registered():
        yield


def held(event_id: str, *, by: str, claimed_at, attempts: int = 1) -> WebhookEvent:
    event = intake.store_event(provider="chargebee", event_id=event_id,
                               event_type="subscription_created",
                               body='{"mrr": 5000, "version": 1}').event
    WebhookEvent.objects.filter(pk=event.pk).update(
        status="processing", attempts=attempts, claimed_at=claimed_at, claimed_by=by)
    event.refresh_from_db()
    return event


def test_the_events_this_node_held_before_it_started_are_received_again(tasks):
    started = timezone.now()
    dead = held("ev_dead", by=NODE, claimed_at=started - timedelta(seconds=5), attempts=2)

    assert give_back.release_claims(node=NODE, before=started) == 1

    dead.refresh_from_db()
    assert (dead.status, dead.attempts, dead.claimed_by) == ("received", 2, "")
    assert tasks == [(drain.DRAIN_TASK, None)]
    # The drain takes it: its third and last attempt.
    [claimed] = processing.claim_events(limit=10)
    assert (claimed.pk, claimed.attempts) == (dead.pk, 3)


def test_other_nodes_claims_and_claims_made_since_the_start_are_left_alone(tasks):
    started = timezone.now()
    other = held("ev_other", by="celery@worker-b", claimed_at=started - timedelta(seconds=5))
    since = held("ev_since", by=NODE, claimed_at=started + timedelta(seconds=1))
    nobody = held("ev_nobody", by="", claimed_at=started - timedelta(seconds=5))

    assert give_back.release_claims(node=NODE, before=started) == 0

    for event in (other, since, nobody):
        event.refresh_from_db()
        assert event.status == "processing"
    assert tasks == []


def test_an_event_in_its_last_attempt_is_failed_with_the_reason(tasks):
    started = timezone.now()
    last = held("ev_last", by=NODE, claimed_at=started - timedelta(seconds=5),
                attempts=MAX_ATTEMPTS)

    assert give_back.release_claims(node=NODE, before=started) == 1

    last.refresh_from_db()
    assert last.status == "failed"
    assert last.error == give_back.GAVE_UP.format(attempts=MAX_ATTEMPTS, limit=MAX_ATTEMPTS)
    assert tasks == []  # nothing to drain


def test_a_process_that_is_not_a_worker_releases_nothing(tasks):
    event = held("ev_web", by="", claimed_at=timezone.now() - timedelta(seconds=5))
    assert give_back.release_claims(node="", before=timezone.now()) == 0
    event.refresh_from_db()
    assert event.status == "processing"


def received(event_id: str, *, seconds_ago: int) -> WebhookEvent:
    event = intake.store_event(provider="chargebee", event_id=event_id,
                               event_type="subscription_created",
                               body='{"mrr": 5000, "version": 1}').event
    WebhookEvent.objects.filter(pk=event.pk).update(
        received_at=timezone.now() - timedelta(seconds=seconds_ago))
    return event


def test_a_received_event_is_drained_again_after_the_drain_flags_lifetime_not_the_lease(tasks):
    assert requeue.WAITING_SECONDS == drain.FLAG_SECONDS
    received("ev_fresh", seconds_ago=requeue.WAITING_SECONDS - 10)
    assert requeue.requeue_stuck_events(older_than_seconds=300) == 0
    assert tasks == []

    received("ev_lost", seconds_ago=requeue.WAITING_SECONDS + 10)  # well under the lease
    assert requeue.requeue_stuck_events(older_than_seconds=300) == 1
    assert tasks == [(drain.DRAIN_TASK, None)]
