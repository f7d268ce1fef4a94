"""Personal data does not stay for ever: failed and rejected events once an operator has seen
them, Salesforce call records, and Braintree look-ups are pruned after their retention."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from billing import tasks as billing_tasks
from billing.models import (
    BraintreeMerchantAccount,
    BraintreePaymentMethodCustomer,
    BraintreePlan,
    WebhookEvent,
)
from crm import tasks as crm_tasks
from crm.models import SyncAttempt

pytestmark = pytest.mark.django_db

State = WebhookEvent.State


def _event(event_id: str, *, status: str, days_ago: float, seen: bool) -> WebhookEvent:
    event = WebhookEvent.objects.create(provider="chargebee", event_id=event_id,
                                        event_type="subscription_changed", status=status,
                                        body=json.dumps({"customer": {"email": "a@b.test"}}))
    now = timezone.now()
    WebhookEvent.objects.filter(pk=event.pk).update(
        received_at=now - timedelta(days=days_ago),
        seen_at=now - timedelta(days=1) if seen else None)
    return event


def _remaining() -> set[str]:
    return set(WebhookEvent.objects.values_list("event_id", flat=True))


def test_seen_failures_go_after_their_retention_unseen_ones_stay(settings):
    settings.SUBSYNC_FAILED_EVENT_RETENTION_DAYS = 180
    settings.SUBSYNC_EVENT_RETENTION_DAYS = 0
    _event("failed_seen_old", status=State.FAILED, days_ago=181, seen=True)
    _event("rejected_seen_old", status=State.REJECTED, days_ago=200, seen=True)
    _event("failed_unseen_old", status=State.FAILED, days_ago=400, seen=False)
    _event("failed_seen_recent", status=State.FAILED, days_ago=179, seen=True)
    _event("received_seen_old", status=State.RECEIVED, days_ago=400, seen=True)
    outcome = billing_tasks.prune_webhook_events()
    assert outcome["seen_failures"] == 2
    assert _remaining() == {"failed_unseen_old", "failed_seen_recent", "received_seen_old"}


def test_zero_keeps_failures_for_ever(settings):
    settings.SUBSYNC_FAILED_EVENT_RETENTION_DAYS = 0
    _event("failed_seen_old", status=State.FAILED, days_ago=900, seen=True)
    billing_tasks.prune_webhook_events()
    assert _remaining() == {"failed_seen_old"}


def test_opening_an_event_marks_it_seen_once(admin_client):
    event = _event("failed", status=State.FAILED, days_ago=3, seen=False)
    assert admin_client.get(f"/events/{event.pk}/").status_code == 200
    event.refresh_from_db()
    first = event.seen_at
    assert first is not None
    assert admin_client.get(f"/admin/billing/webhookevent/{event.pk}/change/").status_code == 200
    event.refresh_from_db()
    assert event.seen_at == first


def test_the_admin_page_marks_an_event_seen(admin_client):
    event = _event("rejected", status=State.REJECTED, days_ago=3, seen=False)
    admin_client.get(f"/admin/billing/webhookevent/{event.pk}/change/")
    event.refresh_from_db()
    assert event.seen_at is not None


def test_a_list_page_does_not_mark_events_seen(admin_client):
    event = _event("failed", status=State.FAILED, days_ago=3, seen=False)
    admin_client.get("/events/?status=failed")
    event.refresh_from_db()
    assert event.seen_at is None


def test_old_sync_attempts_are_pruned(settings):
    settings.SUBSYNC_SYNC_ATTEMPT_RETENTION_DAYS = 90
    old = SyncAttempt.objects.create(operation="upsert", sobject="Account",
                                     records=["chargebee:cus_1"])
    recent = SyncAttempt.objects.create(operation="upsert", sobject="Account",
                                        records=["chargebee:cus_2"])
    SyncAttempt.objects.filter(pk=old.pk).update(started_at=timezone.now() - timedelta(days=91))
    SyncAttempt.objects.filter(pk=recent.pk).update(
        started_at=timezone.now() - timedelta(days=89))
    assert crm_tasks.prune_sync_attempts() == 1
    assert list(SyncAttempt.objects.values_list("pk", flat=True)) == [recent.pk]
    settings.SUBSYNC_SYNC_ATTEMPT_RETENTION_DAYS = 0
    assert crm_tasks.prune_sync_attempts() is None


def test_old_braintree_look_ups_are_pruned(settings):
    settings.SUBSYNC_BRAINTREE_CACHE_RETENTION_DAYS = 30
    settings.SUBSYNC_EVENT_RETENTION_DAYS = 0
    now = timezone.now()
    old, fresh = now - timedelta(days=31), now - timedelta(days=29)
    BraintreePaymentMethodCustomer.objects.create(token="tok_old", customer_id="c1",
                                                  email="old@x.test", refreshed_at=old)
    BraintreePaymentMethodCustomer.objects.create(token="tok_new", customer_id="c2",
                                                  email="new@x.test", refreshed_at=fresh)
    BraintreePlan.objects.create(plan_id="old", refreshed_at=old)
    BraintreeMerchantAccount.objects.create(merchant_account_id="old", currency="USD",
                                            refreshed_at=old)
    outcome = billing_tasks.prune_webhook_events()
    assert outcome["braintree_cache"] == 3
    assert list(BraintreePaymentMethodCustomer.objects.values_list("token", flat=True)) == \
        ["tok_new"]
    assert not BraintreePlan.objects.exists() and not BraintreeMerchantAccount.objects.exists()


def test_the_prunes_are_scheduled(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"billing.tasks.prune_webhook_events", "crm.tasks.prune_sync_attempts"} <= tasks
