"""Missed-event polling against the fake Chargebee server, over real HTTP.

The poller must ask from where it stopped (one second early: Chargebee's `[after]` is strict
and whole seconds), store what it lacks through the webhook path, and leave alone what a webhook
or an earlier poll already stored.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings

from billing.models import Cursor, Subscription, WebhookEvent
from billing.services.polling import poll_chargebee_events
from billing.tasks import poll_chargebee_events as poll_task
from billing.tasks import process_webhook_event
from emulator.chargebee.events import DEFAULT_OCCURRED_AT, make_event

pytestmark = pytest.mark.django_db


T0 = DEFAULT_OCCURRED_AT
NOW = datetime.fromtimestamp(T0 + 3600, tz=UTC)


@pytest.fixture
def server(chargebee_server):
    return chargebee_server


@pytest.fixture
def poll(django_capture_on_commit_callbacks):
    """Poll, then run what would run on commit (the enqueueing) as production would."""

    def run(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return poll_chargebee_events(**kwargs)

    return run


def event_requests(server):
    return server.requests_to("/events")


def position() -> str:
    return Cursor.objects.get(provider="chargebee", name="poll:events").position


def test_nothing_happens_without_api_credentials(settings, sent):
    settings.CHARGEBEE_API_KEY = ""

    assert poll_task() == {"fetched": 0, "stored": 0, "duplicates": 0, "rejected": 0,
                           "skipped": True, "last_seen": None}
    assert not Cursor.objects.exists() and not WebhookEvent.objects.exists()


def test_first_poll_looks_back_the_configured_window_and_stores_events(poll, server, sent):
    made = server.seed_events(count=5)

    result = poll(now=NOW)

    (request,) = event_requests(server)
    assert request.param("occurred_at[after]") == str(T0 + 3600 - 72 * 3600)
    assert request.param("sort_by[asc]") == "occurred_at"
    assert request.param("limit") == "100"
    assert (result.fetched, result.stored, result.duplicates) == (5, 5, 0)
    rows = WebhookEvent.objects.order_by("occurred_at")
    assert [r.event_id for r in rows] == [e["id"] for e in made]
    assert {(r.source, r.status) for r in rows} == {("poll", "received")}
    assert sent == [r.pk for r in rows]
    last = datetime.fromtimestamp(made[-1]["occurred_at"], tz=UTC)
    assert result.last_seen == last
    assert position() == last.isoformat()


def test_lookback_window_is_a_setting(poll, server, sent, settings):
    settings.SUBSYNC_CHARGEBEE_POLL_LOOKBACK_HOURS = 1
    server.seed_events(count=3)

    poll(now=NOW + timedelta(seconds=90))

    assert event_requests(server)[0].param("occurred_at[after]") == str(T0 + 90)
    assert WebhookEvent.objects.count() == 1  # only the event at T0 + 120 is inside the hour


def test_next_poll_asks_from_one_second_before_the_last_seen_and_dedupes(poll, server, sent):
    made = server.seed_events(count=3)
    poll(now=NOW)
    last = made[-1]["occurred_at"]
    same_second = make_event("subscription_changed", event_id="ev_same_second",
                             subscription_id="sub_0001", customer_id="cus_0001",
                             occurred_at=last)
    later = make_event("subscription_renewed", event_id="ev_later", subscription_id="sub_0002",
                       customer_id="cus_0002", occurred_at=last + 30)
    server.add_event(same_second)
    server.add_event(later)
    sent.clear()
    server.requests.clear()

    result = poll(now=NOW)

    assert event_requests(server)[0].param("occurred_at[after]") == str(last - 1)
    assert (result.fetched, result.stored, result.duplicates) == (3, 2, 1)
    new = WebhookEvent.objects.filter(event_id__in=["ev_same_second", "ev_later"])
    assert sorted(sent) == sorted(new.values_list("pk", flat=True))
    assert WebhookEvent.objects.count() == 5
    assert position() == datetime.fromtimestamp(last + 30, tz=UTC).isoformat()


def test_events_already_received_by_webhook_are_not_stored_or_enqueued_again(
    poll, server, sent, client, settings, django_capture_on_commit_callbacks
):
    settings.CHARGEBEE_WEBHOOK_USERNAME, settings.CHARGEBEE_WEBHOOK_PASSWORD = "hooks", "pw"
    made = server.seed_events(count=2)
    auth = "Basic " + base64.b64encode(b"hooks:pw").decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/webhooks/chargebee/", data=json.dumps(made[0]),
                               content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200
    by_webhook = WebhookEvent.objects.get()
    assert sent == [by_webhook.pk]

    result = poll(now=NOW)

    assert (result.stored, result.duplicates) == (1, 1)
    by_webhook.refresh_from_db()
    assert by_webhook.source == "webhook"
    polled = WebhookEvent.objects.get(event_id=made[1]["id"])
    assert polled.source == "poll"
    assert sent == [by_webhook.pk, polled.pk]


def test_pages_through_many_events(poll, server, sent):
    made = server.seed_events(count=250, step=10)

    result = poll(now=NOW)

    assert len(event_requests(server)) == 3
    assert (result.fetched, result.stored) == (250, 250)
    assert WebhookEvent.objects.count() == 250
    assert position() == datetime.fromtimestamp(made[-1]["occurred_at"], tz=UTC).isoformat()


def test_a_long_backlog_is_read_over_several_runs(poll, server, sent):
    made = server.seed_events(count=250, step=10)

    first = poll(now=NOW, max_pages=1)
    assert (first.stored, len(event_requests(server))) == (100, 1)
    assert position() == datetime.fromtimestamp(made[99]["occurred_at"], tz=UTC).isoformat()

    poll(now=NOW)

    assert WebhookEvent.objects.count() == 250
    assert event_requests(server)[1].param("occurred_at[after]") == str(
        made[99]["occurred_at"] - 1)


def test_events_of_another_api_version_are_kept_rejected_once(poll, server, sent):
    old = {**make_event("subscription_created", event_id="ev_v1", occurred_at=T0),
           "api_version": "v1"}
    server.add_event(old)

    first = poll(now=NOW)
    second = poll(now=NOW)

    row = WebhookEvent.objects.get()
    assert (row.event_id, row.status, row.source) == ("ev_v1", "rejected", "poll")
    assert "v2" in row.error
    assert (first.rejected, second.rejected, second.duplicates) == (1, 0, 1)
    assert sent == []


def test_a_polled_event_is_processed_like_a_webhook(poll, server, sent):
    server.add_event(make_event("subscription_created", event_id="ev_missed",
                                subscription_id="sub_missed", mrr=4200, occurred_at=T0))
    poll(now=NOW)

    process_webhook_event(sent[0])  # the task function, as the worker would run it

    assert WebhookEvent.objects.get().status == "processed"
    assert Subscription.objects.get(external_id="sub_missed").mrr == 4200


def test_an_unreachable_api_leaves_the_position_for_the_next_beat(server, sent, settings):
    settings.SUBSYNC_CHARGEBEE_POLL_LOOKBACK_HOURS = 24 * 365 * 30  # the task polls from now
    made = server.seed_events(count=150)
    server.fail_after_pages(pages=1)

    assert poll_task() is None  # logged; the next beat tries again

    assert WebhookEvent.objects.count() == 100
    assert position() == datetime.fromtimestamp(made[99]["occurred_at"], tz=UTC).isoformat()


def test_beat_polls_every_five_minutes():
    entry = django_settings.CELERY_BEAT_SCHEDULE["poll-chargebee-events"]
    assert entry == {"task": "billing.tasks.poll_chargebee_events", "schedule": 300.0}
