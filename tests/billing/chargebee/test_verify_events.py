"""CHARGEBEE_VERIFY_EVENTS: an event is applied as Chargebee's API has it, never as delivered,
and one Chargebee does not know is refused."""

from __future__ import annotations

import contextlib
import json

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from billing.models import Subscription, WebhookEvent
from billing.services import intake, processing
from emulator.chargebee.events import make_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def verifying(settings, chargebee_server, sent):
    settings.CHARGEBEE_VERIFY_EVENTS = True
    return chargebee_server


def _deliver(body: dict) -> WebhookEvent:
    event = intake.store_event(provider="chargebee", event_id=body["id"],
                               event_type=body["event_type"], body=json.dumps(body)).event
    with contextlib.suppress(processing.EventProcessingError):  # the row says why
        processing.process_event(event_id=event.pk)
    event.refresh_from_db()
    return event


def test_the_fetched_event_is_applied_not_the_delivered_body(verifying):
    genuine = make_event("subscription_created", event_id="ev_1", subscription_id="sub_1",
                         mrr=4900)
    verifying.add_event(genuine)
    forged = json.loads(json.dumps(genuine))
    forged["content"]["subscription"]["mrr"] = 1
    forged["content"]["subscription"]["plan_amount"] = 1
    event = _deliver(forged)
    assert event.status == WebhookEvent.State.PROCESSED
    subscription = Subscription.objects.get(external_id="sub_1")
    assert subscription.mrr == 4900
    # One call for the event, by its id.
    assert [r.path for r in verifying.requests].count("/api/v2/events/ev_1") == 1


def test_an_event_chargebee_does_not_know_is_refused(verifying):
    made_up = make_event("subscription_created", event_id="ev_made_up", subscription_id="sub_x")
    event = _deliver(made_up)
    assert event.status == WebhookEvent.State.FAILED
    assert "Chargebee does not know event ev_made_up" in event.error
    assert not Subscription.objects.filter(external_id="sub_x").exists()


def test_without_the_setting_the_delivered_body_is_applied(settings, chargebee_server, sent):
    settings.CHARGEBEE_VERIFY_EVENTS = False
    event = _deliver(make_event("subscription_created", event_id="ev_2",
                                subscription_id="sub_2"))
    assert event.status == WebhookEvent.State.PROCESSED
    assert not [r for r in chargebee_server.requests if "/events/" in r.path]


def test_the_setting_needs_the_api_keys(settings):
    settings.CHARGEBEE_VERIFY_EVENTS = True
    settings.CHARGEBEE_SITE = settings.CHARGEBEE_API_KEY = ""
    with pytest.raises(SystemCheckError, match=r"billing\.E002"):
        call_command("check")
