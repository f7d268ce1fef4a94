"""store_event / process_event: stored once, processed once, failures kept on the row.

A tiny in-test provider adapter stands in for Chargebee/Braintree here: this file tests the
pipeline, not a provider's format (those have their own tests).
"""

from datetime import timedelta

import pytest

from billing.models import Subscription, WebhookEvent
from billing.services import intake, processing, requeue
from tests.support.json_adapter import json_adapter_registered

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def adapter():
    with json_adapter_registered():
        yield


def store(event_id="ev_1", body='{"mrr": 5000, "version": 1}', event_type="subscription_created"):
    return intake.store_event(provider="chargebee", event_id=event_id, event_type=event_type,
                              body=body, headers={"Authorization": "Basic c2VjcmV0",
                                                  "Content-Type": "application/json"})


def test_stored_once_enqueued_on_commit_and_credentials_not_kept(
    sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = store()
        again = store()
    assert first.created and not again.created
    assert WebhookEvent.objects.count() == 1
    assert sent == [first.event.pk]
    assert "Authorization" not in first.event.headers
    assert first.event.headers["Content-Type"] == "application/json"


def test_a_duplicate_reads_only_id_and_status_and_builds_the_row_on_demand(sent):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = store()
    with CaptureQueriesContext(connection) as queries:
        again = store()
    # The INSERT that found it, then one look-up that leaves the stored body alone.
    assert len(queries) == 2
    lookup = queries[1]["sql"].lower()
    assert lookup.startswith("select") and "body" not in lookup
    assert (again.pk, again.created, again.requeued) == (first.pk, False, False)
    assert again.event.body == first.event.body  # the whole row, read when asked for


def test_a_duplicate_of_an_event_pruned_meanwhile_is_stored_anew(sent, monkeypatch):
    first = store()
    lookup = intake._id_and_status

    def pruned_first(**kwargs):
        # Retention deletes the old row between the INSERT that found it and the look-up.
        WebhookEvent.objects.filter(pk=first.pk).delete()
        monkeypatch.setattr(intake, "_id_and_status", lookup)
        return lookup(**kwargs)

    monkeypatch.setattr(intake, "_id_and_status", pruned_first)
    again = store()
    assert again.created and again.pk != first.pk
    assert list(WebhookEvent.objects.values_list("pk", "status")) == [(again.pk, "received")]


def test_processing_applies_once_and_a_second_run_is_a_no_op(sent):
    event = store().event
    assert processing.process_event(event_id=event.pk) == "processed"
    assert processing.process_event(event_id=event.pk) == "processed"
    event.refresh_from_db()
    assert event.attempts == 1 and event.processed_at is not None
    assert Subscription.objects.get().mrr == 5000


def test_older_version_is_marked_stale(sent):
    processing.process_event(event_id=store("new", '{"mrr": 7000, "version": 5}').event.pk)
    status = processing.process_event(event_id=store("old", '{"mrr": 5000, "version": 4}').event.pk)
    assert status == "stale"
    assert Subscription.objects.get().mrr == 7000


def test_unrelated_event_is_ignored_with_its_reason(sent):
    event = store(event_type="unrelated").event
    assert processing.process_event(event_id=event.pk) == "ignored"
    event.refresh_from_db()
    assert event.error == "not a subscription event"


def test_failure_keeps_error_and_traceback_then_redelivery_retries(
    sent, django_capture_on_commit_callbacks
):
    event = store(body='{"boom": "upstream hiccup"}').event
    with pytest.raises(processing.EventProcessingError) as info:
        processing.process_event(event_id=event.pk)
    assert not info.value.permanent
    event.refresh_from_db()
    assert event.status == "failed" and "upstream hiccup" in event.error
    assert "Traceback" in event.traceback
    # The provider redelivers; this time the body we stored is the same, so make the
    # adapter succeed by fixing the stored body (as an operator replay would after a fix).
    WebhookEvent.objects.filter(pk=event.pk).update(body='{"mrr": 100, "version": 1}')
    with django_capture_on_commit_callbacks(execute=True):
        redelivered = store()
    assert redelivered.requeued
    assert sent[-1] == event.pk
    assert processing.process_event(event_id=event.pk) == "processed"
    event.refresh_from_db()
    assert event.attempts == 2 and event.error == "" and event.traceback == ""


def test_permanent_error_gives_up_at_once_and_cap_stops_transient_retries(sent, settings):
    bad = store("bad", '{"boom": "nonsense", "permanent": true}').event
    with pytest.raises(processing.EventProcessingError) as info:
        processing.process_event(event_id=bad.pk)
    assert info.value.permanent
    settings.SUBSYNC_EVENT_MAX_ATTEMPTS = 2
    flaky = store("flaky", '{"boom": "again"}').event
    outcomes = []
    for _ in range(2):
        with pytest.raises(processing.EventProcessingError) as info:
            processing.process_event(event_id=flaky.pk)
        outcomes.append(info.value.permanent)
    assert outcomes == [False, True]


def test_rejected_event_is_kept_but_never_processed(sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = intake.store_event(provider="chargebee", event_id="rej", event_type="",
                                    body="not json", rejected_error="body is not JSON")
    assert result.event.status == "rejected" and sent == []
    assert processing.process_event(event_id=result.event.pk) == "rejected"


def test_stuck_events_are_requeued(monkeypatch):
    """A stuck received event starts a drain even when the flag says one is coming; a stuck
    processing event (its worker died) gets its own task."""
    from billing.services import drain

    tasks = []
    monkeypatch.setattr(processing.app, "send_task",
                        lambda name, args=None, **options: tasks.append((name, args)))
    waiting, claimed = store("ev_a").event, store("ev_b").event
    processing.claim_events(ids=[claimed.pk])
    WebhookEvent.objects.update(received_at=waiting.received_at - timedelta(minutes=10),
                                claimed_at=waiting.received_at - timedelta(minutes=10))
    drain.request_drain()  # a drain was requested earlier, and lost
    tasks.clear()
    assert requeue.requeue_stuck_events(older_than_seconds=300) == 2
    assert sorted(tasks, key=str) == sorted([(drain.DRAIN_TASK, None),
                                             (processing.PROCESS_TASK, [claimed.pk])], key=str)
    # Younger than these cutoffs: nothing is stuck.
    assert requeue.requeue_stuck_events(older_than_seconds=3600, waiting_seconds=3600) == 0
