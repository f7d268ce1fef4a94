"""A failed event whose delayed retry message was lost is retried by the stuck-event requeue
(issue 15): the retry is a Celery message with a countdown, which a Redis outage or a killed
worker holding it loses; the row's next_attempt_at says when it was due.

No worker runs here: Celery sends are captured by replacing `send_task` on the app (a captured
message that is never delivered is exactly a lost one), and tasks are run by calling the
service. A tiny in-test adapter stands in for the provider.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import Subscription, WebhookEvent
from billing.services import drain, intake, processing, requeue
from tests.support.json_adapter import json_adapter_registered

pytestmark = pytest.mark.django_db

State = WebhookEvent.State
LEASE = 300


@pytest.fixture(autouse=True)
def adapter(settings):
    settings.SUBSYNC_DRAIN_LINGER_SECONDS = 0
    settings.SUBSYNC_EVENT_MAX_ATTEMPTS = 3
    with json_adapter_registered():
        yield


@pytest.fixture
def tasks(monkeypatch) -> list[tuple[str, list | None, dict]]:
    """Every Celery send as (name, args, options); nothing reaches a broker."""
    calls = []
    monkeypatch.setattr(processing.app, "send_task",
                        lambda name, args=None, **options: calls.append((name, args, options)))
    return calls


@pytest.fixture
def hiccup(monkeypatch):
    """Applying fails once (a transient error), then works."""
    real_apply = processing.apply_parsed_events
    failures = ["database hiccup"]

    def apply_once_failing(ready):
        if failures:
            raise RuntimeError(failures.pop())
        return real_apply(ready)

    monkeypatch.setattr(processing, "apply_parsed_events", apply_once_failing)


def store(event_id: str, body: dict | None = None) -> WebhookEvent:
    body = body or {"sub": "sub_1", "mrr": 5000, "version": 1}
    return intake.store_event(provider="chargebee", event_id=event_id,
                              event_type="subscription_created", body=json.dumps(body)).event


def retries(tasks) -> list[tuple[list, dict]]:
    return [(args, options) for name, args, options in tasks if name == processing.PROCESS_TASK]


def age_retry(event: WebhookEvent, *, overdue_seconds: float) -> None:
    """Time passes: the event's retry was due `overdue_seconds` ago."""
    WebhookEvent.objects.filter(pk=event.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=overdue_seconds))


def test_a_transient_failure_records_when_its_retry_is_due(tasks, hiccup):
    event = store("ev_1")
    before = timezone.now()

    assert drain.drain(batch_size=5) == 1

    event.refresh_from_db()
    [(args, options)] = retries(tasks)
    assert event.status == State.FAILED and args == [event.pk]
    # The row's due time is the message's countdown from the failure, not a second guess.
    due = event.next_attempt_at - before
    assert options["countdown"] > 0
    assert timedelta(seconds=options["countdown"]) <= due
    assert due <= timedelta(seconds=options["countdown"]) + (timezone.now() - before)


def test_a_permanent_failure_or_the_last_attempt_waits_for_no_retry(tasks):
    permanent = store("ev_bad", {"boom": "nonsense", "permanent": True})
    last = store("ev_last", {"boom": "upstream down"})
    WebhookEvent.objects.filter(pk=last.pk).update(attempts=2)  # the next one is the third

    assert drain.drain(batch_size=5) == 2

    for event in (permanent, last):
        event.refresh_from_db()
        assert event.status == State.FAILED and event.next_attempt_at is None
    assert retries(tasks) == []
    # Nothing for the requeue to send either: they wait for an operator.
    assert requeue.requeue_stuck_events(older_than_seconds=LEASE) == 0


def test_a_lost_retry_is_sent_again_once_overdue_and_the_event_is_applied_once(tasks, hiccup):
    event = store("ev_1")
    drain.drain(batch_size=5)
    tasks.clear()  # the delayed retry message is lost (never delivered)

    age_retry(event, overdue_seconds=requeue.RETRY_GRACE_SECONDS + 5)
    assert requeue.requeue_stuck_events(older_than_seconds=LEASE) == 1
    assert retries(tasks) == [([event.pk], {})]

    assert processing.process_event(event_id=event.pk) == State.PROCESSED
    event.refresh_from_db()
    assert (event.status, event.attempts, event.next_attempt_at) == (State.PROCESSED, 2, None)
    assert Subscription.objects.get(external_id="sub_1").changes.count() == 1


def test_a_retry_still_within_its_grace_is_left_to_its_own_message(tasks, hiccup):
    event = store("ev_1")
    drain.drain(batch_size=5)
    tasks.clear()

    age_retry(event, overdue_seconds=requeue.RETRY_GRACE_SECONDS - 5)
    assert requeue.requeue_stuck_events(older_than_seconds=LEASE) == 0
    assert tasks == []


def test_a_resent_retry_is_not_sent_again_by_the_next_run(tasks, hiccup):
    """The resend makes the retry due now: a run a minute later (the task still queued behind
    a backlog) waits the grace again instead of piling up messages."""
    event = store("ev_1")
    drain.drain(batch_size=5)
    age_retry(event, overdue_seconds=requeue.RETRY_GRACE_SECONDS + 5)
    requeue.requeue_stuck_events(older_than_seconds=LEASE)
    tasks.clear()

    assert requeue.requeue_stuck_events(older_than_seconds=LEASE) == 0
    assert tasks == []
    event.refresh_from_db()
    assert event.status == State.FAILED and event.next_attempt_at is not None


def test_the_retry_that_was_only_late_does_nothing_after_the_resend_applied_it(tasks, hiccup):
    """Both messages arrive after all (the first was late, not lost): applied once."""
    event = store("ev_1")
    drain.drain(batch_size=5)
    age_retry(event, overdue_seconds=requeue.RETRY_GRACE_SECONDS + 5)
    requeue.requeue_stuck_events(older_than_seconds=LEASE)

    assert processing.process_event(event_id=event.pk) == State.PROCESSED
    assert processing.process_event(event_id=event.pk) == State.PROCESSED

    event.refresh_from_db()
    assert event.attempts == 2
    assert Subscription.objects.get(external_id="sub_1").changes.count() == 1


def test_a_claim_clears_the_due_time(tasks, hiccup):
    event = store("ev_1")
    drain.drain(batch_size=5)
    event.refresh_from_db()
    assert event.next_attempt_at is not None

    assert [e.pk for e in processing.claim_events(ids=[event.pk])] == [event.pk]

    event.refresh_from_db()
    assert event.status == State.PROCESSING and event.next_attempt_at is None
