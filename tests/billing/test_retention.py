"""Retention: done webhook events older than the retention are deleted, nothing else is.

Events are stored and processed through the real pipeline (Chargebee bodies shaped as
documented); only their arrival time is moved into the past.
"""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from billing import tasks
from billing.models import Subscription, SubscriptionChange, WebhookEvent
from billing.services import intake, processing, retention
from emulator.chargebee.events import make_event

pytestmark = pytest.mark.django_db

State = WebhookEvent.State


def store(event_id: str, *, days_ago: float, event_type: str = "subscription_created",
          status: str | None = None, process: bool = True) -> WebhookEvent:
    """An event received `days_ago`, processed through the worker's code unless told not to,
    or forced into `status`."""
    body = make_event(event_type, event_id=event_id, subscription_id=f"sub_{event_id}")
    event = intake.store_event(provider="chargebee", event_id=event_id,
                               event_type=body["event_type"], body=json.dumps(body)).event
    if process:
        processing.process_event(event_id=event.pk)
    changes = {"received_at": timezone.now() - timedelta(days=days_ago)}
    if status:
        changes["status"] = status
    WebhookEvent.objects.filter(pk=event.pk).update(**changes)
    event.refresh_from_db()
    return event


def remaining() -> set[str]:
    return set(WebhookEvent.objects.values_list("event_id", flat=True))


def test_only_done_events_older_than_the_cutoff_are_deleted():
    store("ev_old_processed", days_ago=100)
    store("ev_old_ignored", days_ago=100, event_type="invoice_generated")
    store("ev_old_stale", days_ago=100, status=State.STALE)
    store("ev_old_failed", days_ago=100, status=State.FAILED)
    store("ev_old_rejected", days_ago=100, status=State.REJECTED)
    store("ev_old_received", days_ago=100, process=False)
    store("ev_old_processing", days_ago=100, status=State.PROCESSING)
    store("ev_recent_processed", days_ago=89)
    assert WebhookEvent.objects.get(event_id="ev_old_ignored").status == State.IGNORED

    result = retention.prune_events(cutoff=retention.retention_cutoff(days=90))

    assert result.deleted == 3 and result.complete
    assert remaining() == {"ev_old_failed", "ev_old_rejected", "ev_old_received",
                           "ev_old_processing", "ev_recent_processed"}


def test_what_a_deleted_event_changed_stays_and_its_ledger_rows_lose_only_the_link():
    event = store("ev_created", days_ago=120)
    change = SubscriptionChange.objects.get(event=event)

    retention.prune_events(cutoff=retention.retention_cutoff(days=90))

    assert not WebhookEvent.objects.filter(pk=event.pk).exists()
    kept = SubscriptionChange.objects.get(pk=change.pk)
    assert kept.event_id is None
    assert (kept.movement, kept.mrr_after) == (change.movement, change.mrr_after)
    assert Subscription.objects.filter(external_id="sub_ev_created").exists()


def test_a_redelivery_within_the_retention_is_still_a_duplicate():
    event = store("ev_kept", days_ago=6)
    retention.prune_events(cutoff=retention.retention_cutoff(days=retention.MIN_RETENTION_DAYS))
    body = json.loads(event.body)

    again = intake.store_event(provider="chargebee", event_id="ev_kept",
                               event_type=body["event_type"], body=event.body)

    assert not again.created


def test_chunks_and_the_time_budget():
    for n in range(5):
        store(f"ev_{n}", days_ago=100)
    cutoff = retention.retention_cutoff(days=90)

    first = retention.prune_events(cutoff=cutoff, chunk_size=2, max_seconds=0)

    assert (first.deleted, first.complete) == (2, False)  # one chunk, then out of time
    rest = retention.prune_events(cutoff=cutoff, chunk_size=2)
    assert (rest.deleted, rest.complete) == (3, True)
    assert remaining() == set()


@pytest.mark.parametrize("days", [0, 1, 6])
def test_a_retention_below_a_week_is_refused(days):
    with pytest.raises(ValueError, match="minimum of 7"):
        retention.retention_cutoff(days=days)


def test_the_nightly_task_follows_the_setting(settings):
    store("ev_old", days_ago=40)
    settings.SUBSYNC_EVENT_RETENTION_DAYS = 0
    settings.SUBSYNC_FAILED_EVENT_RETENTION_DAYS = 0
    settings.SUBSYNC_BRAINTREE_CACHE_RETENTION_DAYS = 0

    assert tasks.prune_webhook_events() is None
    assert remaining() == {"ev_old"}

    settings.SUBSYNC_EVENT_RETENTION_DAYS = 30
    outcome = tasks.prune_webhook_events()

    assert outcome["deleted"] == 1 and outcome["complete"]
    assert remaining() == set()


def test_the_task_is_scheduled_by_beat(settings):
    entries = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "billing.tasks.prune_webhook_events" in entries


def test_the_command_counts_in_a_dry_run_then_deletes():
    store("ev_old", days_ago=40)
    store("ev_new", days_ago=1)
    out = StringIO()

    call_command("prune_events", "--days", "30", "--dry-run", stdout=out)

    assert "would delete 1 event(s)" in out.getvalue()
    assert remaining() == {"ev_old", "ev_new"}
    call_command("prune_events", "--days", "30", stdout=out)
    assert "deleted 1 event(s)" in out.getvalue()
    assert remaining() == {"ev_new"}


def test_the_command_refuses_a_short_retention_or_a_disabled_one(settings):
    with pytest.raises(CommandError, match="minimum of 7"):
        call_command("prune_events", "--days", "3")
    settings.SUBSYNC_EVENT_RETENTION_DAYS = 0
    with pytest.raises(CommandError, match="keep every event"):
        call_command("prune_events")
